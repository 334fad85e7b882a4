"""Shopify product CSV: POST /api/products/import (dry run, all or nothing, re-import) and
GET /api/products/export.csv."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import make_product
from tests.shopify_samples import BAD_ROWS, shop_csv

CSV = {"Content-Type": "text/csv"}


async def post_csv(
    client: httpx.AsyncClient, admin: dict[str, str], text: str, query: str = ""
) -> httpx.Response:
    return await client.post(
        f"/api/products/import{query}", content=text.encode(), headers={**admin, **CSV}
    )


async def catalogue(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = (await client.get("/api/products?limit=100")).json()[
        "products"
    ]
    return products


async def test_dry_run_lists_products_and_per_row_errors_and_writes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A dry run answers what would be created and every bad row, and changes nothing."""
    r = await post_csv(client, admin, shop_csv(bad=True), "?dryRun=true")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dryRun"] is True and report["rows"] == 50
    assert [(e["row"], e["column"]) for e in report["errors"]][:4] == [
        (row, column) for row, column, _ in BAD_ROWS
    ]
    assert report["created"] == 16 and {p["action"] for p in report["products"]} == {"create"}
    first = report["products"][0]  # product-01 has the bad price
    assert first == {
        "row": 6,
        "handle": "product-02",
        "name": "Product 02",
        "sku": "SKU-02-S",
        "price": "12.00",
        "stock": 2 + 3 + 4 + 5,
        "variants": 4,
        "action": "create",
        "productId": None,
    }
    assert await catalogue(client) == []


async def test_an_import_with_errors_imports_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Without dryRun a file with bad rows is 422 with each row's error, and nothing is written."""
    await make_product(client, admin, name="Already here")
    r = await post_csv(client, admin, shop_csv(bad=True))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0] == {
        "loc": ["body", 5, "Variant Price"],
        "field": "row 5: Variant Price",
        "msg": detail[0]["msg"],
        "type": "csv_row",
    }
    assert "12,50" in detail[0]["msg"]
    assert [p["name"] for p in await catalogue(client)] == ["Already here"]


async def test_import_creates_then_reimport_updates_by_handle(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A good file creates its products; the same file again changes nothing; new prices update."""
    r = await post_csv(client, admin, shop_csv(), "?currency=EUR&shopUrl=https://shop.example")
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["errors"]) == (20, [])
    products = await catalogue(client)
    assert len(products) == 20
    one = next(p for p in products if p["handle"] == "product-01")
    assert (one["currency"], one["price"], one["sku"], one["stock"]) == (
        "EUR",
        "11.00",
        "SKU-01-S",
        10,
    )
    assert one["productUrl"] == "https://shop.example/products/product-01"
    assert one["imageUrl"] == "https://cdn.shop.example/p1.jpg"
    assert one["description"] == "The 1th thing & more."
    again = (await post_csv(client, admin, shop_csv())).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 20)
    bumped = (await post_csv(client, admin, shop_csv(price_bump="5"))).json()
    assert (bumped["created"], bumped["updated"]) == (0, 20)
    products = await catalogue(client)
    assert len(products) == 20
    one = next(p for p in products if p["handle"] == "product-01")
    assert (one["price"], one["currency"]) == ("16.00", "EUR")  # currency kept on update


async def test_reimport_finds_a_studio_product_by_sku(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A product made in the studio with the file's SKU is updated, not duplicated."""
    mine = await make_product(client, admin, name="My beanie", sku="SKU-01-S")
    r = await post_csv(client, admin, shop_csv())
    row = next(p for p in r.json()["products"] if p["handle"] == "product-01")
    assert (row["action"], row["productId"]) == ("update", mine["id"])
    products = await catalogue(client)
    assert len(products) == 20
    assert next(p for p in products if p["id"] == mine["id"])["handle"] == "product-01"


async def test_export_imports_back_unchanged(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The exported CSV imported again changes nothing; it carries every field."""
    await make_product(
        client,
        admin,
        name="Tote",
        description="Strong.\n\nWashable.",
        price="18.00",
        currency="GBP",
        stock=40,
        sku="TOTE-1",
        imageUrl="/static/demo/canvas-tote-bag.svg",
        productUrl="/static/buy.html?product=tote",
    )
    await make_product(client, admin, name="Mug", price="9.90")
    r = await client.get("/api/products/export.csv", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    text = r.text
    assert text.startswith("Handle,Title,Body (HTML),")
    assert "<p>Strong.</p><p>Washable.</p>" in text and "TOTE-1" in text
    report = (await post_csv(client, admin, text)).json()
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 2)
    await client.delete(f"/api/products/{(await catalogue(client))[0]['id']}", headers=admin)
    fresh = (await post_csv(client, admin, text, "?currency=USD")).json()
    assert (fresh["created"], fresh["unchanged"]) == (1, 1)
    tote = next(p for p in await catalogue(client) if p["sku"] == "TOTE-1")
    assert (tote["currency"], tote["imageUrl"], tote["description"]) == (
        "GBP",
        "/static/demo/canvas-tote-bag.svg",
        "Strong.\n\nWashable.",
    )


async def test_unreadable_files_are_clear_errors(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Not UTF-8, not CSV-typed, or not a Shopify file: a clear 4xx each."""
    r = await client.post(
        "/api/products/import?dryRun=true",
        content="Handle,Title\nä,ö\n".encode("latin-1"),
        headers={**admin, **CSV},
    )
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"][0]["msg"]
    r = await client.post(
        "/api/products/import", content=b"{}", headers={**admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 415
    r = await post_csv(client, admin, "name,price\nMug,3\n")
    assert (
        r.status_code == 422
        and "missing columns Handle, Title, Variant Price" in r.json()["detail"][0]["msg"]
    )


async def test_csv_routes_need_the_seller(client: httpx.AsyncClient, guest: dict[str, str]) -> None:
    """Shoppers can neither import nor export."""
    assert (await client.get("/api/products/export.csv", headers=guest)).status_code == 403
    assert (await post_csv(client, guest, shop_csv())).status_code == 403
    assert (await client.get("/api/products/export.csv")).status_code == 401
