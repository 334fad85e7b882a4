"""The catalogue: /api/products."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_product


async def test_create_and_get_product(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A created product comes back with a decimal-string price and every field."""
    p = await make_product(
        client,
        admin,
        name="Scarf",
        price=19.9,
        currency="EUR",
        productUrl="https://shop.example/scarf",
    )
    assert p["price"] == "19.90" and p["currency"] == "EUR"
    r = await client.get(f"/api/products/{p['id']}")
    assert r.json() == {"product": p}
    assert set(p) == {
        "id",
        "name",
        "description",
        "price",
        "currency",
        "imageUrl",
        "productUrl",
        "stock",
        "handle",
        "sku",
        "images",
    }
    assert p["handle"] == "scarf" and p["sku"] == "" and p["images"] == []


@pytest.mark.parametrize(
    "price", ["0", "-1", "1.234", "abc", "NaN", "Infinity", True, None, "1e400"]
)
async def test_invalid_price_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], price: object
) -> None:
    """Prices must be positive decimals with at most two places."""
    r = await client.post("/api/products", json={"name": "X", "price": price}, headers=admin)
    assert r.status_code == 422
    assert any(e["field"] == "price" for e in r.json()["detail"])


@pytest.mark.parametrize("stock", [-1, 1.5, "3"])
async def test_invalid_stock_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], stock: object
) -> None:
    """Stock is a non-negative integer."""
    r = await client.post(
        "/api/products", json={"name": "X", "price": "1.00", "stock": stock}, headers=admin
    )
    assert r.status_code == 422


async def test_product_url_must_be_http_or_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A javascript: URL cannot become a Buy link."""
    r = await client.post(
        "/api/products",
        json={"name": "X", "price": "1.00", "productUrl": "javascript:alert(1)"},
        headers=admin,
    )
    assert r.status_code == 422


async def test_writes_need_an_admin(client: httpx.AsyncClient, guest: dict[str, str]) -> None:
    """Without a token 401, as a guest 403."""
    body = {"name": "X", "price": "1.00"}
    assert (await client.post("/api/products", json=body)).status_code == 401
    assert (await client.post("/api/products", json=body, headers=guest)).status_code == 403
    assert (await client.patch("/api/products/1", json=body, headers=guest)).status_code == 403
    assert (await client.delete("/api/products/1", headers=guest)).status_code == 403


async def test_list_is_newest_first_with_cursor(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Pages follow the ``next`` cursor to the end, newest first, without overlap."""
    ids = [(await make_product(client, admin, name=f"P{i}"))["id"] for i in range(5)]
    seen: list[int] = []
    url = "/api/products?limit=2"
    while True:
        body = (await client.get(url)).json()
        seen += [p["id"] for p in body["products"]]
        if body["next"] is None:
            break
        url = f"/api/products?limit=2&before={body['next']}"
    assert seen == sorted(ids, reverse=True)


async def test_search_matches_name_case_insensitively(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """``q`` filters by name or description; LIKE wildcards are literal."""
    await make_product(client, admin, name="Blue Scarf")
    await make_product(client, admin, name="Red Hat", description="100% wool")
    names = [p["name"] for p in (await client.get("/api/products?q=scarf")).json()["products"]]
    assert names == ["Blue Scarf"]
    names = [p["name"] for p in (await client.get("/api/products?q=%25")).json()["products"]]
    assert names == ["Red Hat"]


async def test_update_and_delete(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """PATCH changes only the given fields (and is seen by the list at once); DELETE is 204 then 404."""
    p = await make_product(client, admin)
    await client.get("/api/products")  # fill the cache
    r = await client.patch(f"/api/products/{p['id']}", json={"stock": 9}, headers=admin)
    assert r.json()["product"]["stock"] == 9 and r.json()["product"]["name"] == p["name"]
    listed = (await client.get("/api/products")).json()["products"]
    assert listed[0]["stock"] == 9
    assert (await client.delete(f"/api/products/{p['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/products/{p['id']}")).status_code == 404
    assert (await client.get("/api/products")).json()["products"] == []
    assert (
        await client.patch(f"/api/products/{p['id']}", json={"stock": 1}, headers=admin)
    ).status_code == 404


async def test_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    """An id that does not exist is 404 with a JSON detail."""
    r = await client.get("/api/products/999")
    assert r.status_code == 404 and "detail" in r.json()
