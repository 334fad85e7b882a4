"""Managing the catalogue: handles, SKUs, search, edits and deletes of pinned products."""

from __future__ import annotations

import httpx

from tests.conftest import make_product


async def test_handle_is_made_from_the_name_and_kept_unique(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Without a handle a product gets one from its name; a second one counts up."""
    a = await make_product(client, admin, name="Linen Shirt")
    b = await make_product(client, admin, name="Linen shirt!")
    assert (a["handle"], b["handle"]) == ("linen-shirt", "linen-shirt-2")


async def test_taken_handle_or_sku_is_409(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Another product's handle or SKU is refused on create and on edit."""
    a = await make_product(client, admin, handle="tote", sku="TOTE-1")
    r = await client.post(
        "/api/products", json={"name": "X", "price": "1.00", "sku": "TOTE-1"}, headers=admin
    )
    assert r.status_code == 409
    b = await make_product(client, admin, name="Other")
    r = await client.patch(f"/api/products/{b['id']}", json={"handle": "tote"}, headers=admin)
    assert r.status_code == 409 and "handle or SKU" in r.json()["detail"]
    assert (await client.get(f"/api/products/{a['id']}")).json()["product"]["sku"] == "TOTE-1"


async def test_deleted_products_free_their_handle_and_sku(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """After a delete the handle and SKU can be used again."""
    a = await make_product(client, admin, handle="tote", sku="TOTE-1")
    assert (await client.delete(f"/api/products/{a['id']}", headers=admin)).status_code == 204
    b = await make_product(client, admin, handle="tote", sku="TOTE-1")
    assert b["id"] != a["id"]


async def test_bad_handle_and_sku_are_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Handles are lowercase slugs; SKUs are one line."""
    for body in ({"handle": "Not A Slug"}, {"sku": "a\nb"}, {"handle": ""}):
        r = await client.post(
            "/api/products", json={"name": "X", "price": "1", **body}, headers=admin
        )
        assert r.status_code == 422, body


async def test_search_matches_sku_and_handle(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """``q`` finds a product by its SKU or handle as well as its name."""
    await make_product(client, admin, name="Beanie", sku="MER-BNE-01")
    await make_product(client, admin, name="Scarf", handle="winter-scarf")
    await make_product(client, admin, name="Mug")
    by_sku = (await client.get("/api/products?q=bne-01")).json()["products"]
    by_handle = (await client.get("/api/products?q=winter")).json()["products"]
    assert [p["name"] for p in by_sku] == ["Beanie"]
    assert [p["name"] for p in by_handle] == ["Scarf"]


async def test_edit_changes_only_given_fields(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """PATCH sets the sent fields (SKU and handle included) and keeps the rest."""
    p = await make_product(client, admin, name="Mug", description="Blue", stock=3)
    r = await client.patch(
        f"/api/products/{p['id']}", json={"sku": " MUG-1 ", "price": "9.90"}, headers=admin
    )
    out = r.json()["product"]
    assert (out["sku"], out["price"], out["description"], out["stock"]) == (
        "MUG-1",
        "9.90",
        "Blue",
        3,
    )


async def _live_show_pinning(
    client: httpx.AsyncClient, admin: dict[str, str], product_id: int
) -> int:
    show = (await client.post("/api/livestreams", json={"title": "Live"}, headers=admin)).json()
    sid: int = show["livestream"]["id"]
    r = await client.post(
        f"/api/livestreams/{sid}/pin-product", json={"productId": product_id}, headers=admin
    )
    assert r.status_code == 200
    return sid


async def test_deleting_a_pinned_product_unpins_it_and_keeps_the_history(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The live show loses the pin; the show's timeline still shows the product."""
    p = await make_product(client, admin, name="Scarf")
    sid = await _live_show_pinning(client, admin, p["id"])
    before = (await client.get(f"/api/livestreams/{sid}")).json()["livestream"]
    assert (await client.delete(f"/api/products/{p['id']}", headers=admin)).status_code == 204
    show = (await client.get(f"/api/livestreams/{sid}")).json()["livestream"]
    assert show["pinnedProducts"] == []
    assert before["pinnedProducts"][0]["id"] == p["id"]
    await client.post(f"/api/livestreams/{sid}/stop", headers=admin)
    timeline = (await client.get(f"/api/livestreams/{sid}/timeline")).json()
    assert [pin["product"]["name"] for pin in timeline["pins"]] == ["Scarf"]
    assert timeline["pins"][0]["unpinnedAtSeconds"] is not None
    assert (await client.get(f"/api/products/{p['id']}")).status_code == 404


async def test_editing_a_pinned_product_updates_the_live_pins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The live show's pinned product carries the new price at once."""
    p = await make_product(client, admin, name="Scarf", price="20.00")
    sid = await _live_show_pinning(client, admin, p["id"])
    await client.patch(f"/api/products/{p['id']}", json={"price": "15.00"}, headers=admin)
    show = (await client.get(f"/api/livestreams/{sid}")).json()["livestream"]
    assert show["pinnedProducts"][0]["price"] == "15.00"
