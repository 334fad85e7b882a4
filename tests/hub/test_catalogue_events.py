"""Catalogue changes reach a live show's sockets: an edited pinned product is sent again with its
new values, a deleted one is unpinned (``pinned_products_update`` with a newer ``rev``)."""

from __future__ import annotations

from tests.hub.conftest import Env


async def test_edit_and_delete_of_a_pinned_product_reach_the_show(env: Env) -> None:
    """PATCH sends the pinned product's new price; DELETE sends the pins without it."""
    show = await env.start_show()
    mug, tote = await env.product("Mug"), await env.product("Tote")
    for product in (mug, tote):
        await env.http.post(
            f"/api/livestreams/{show}/pin-product", json={"productId": product}, headers=env.admin
        )
    c = await env.connect()
    snap = await c.join(show)
    await env.http.patch(f"/api/products/{mug}", json={"price": "7.50"}, headers=env.admin)
    edited = await c.wait_type("pinned_products_update")
    assert [(p["id"], p["price"]) for p in edited["pinnedProducts"]] == [
        (mug, "7.50"),
        (tote, "5.00"),
    ]
    assert edited["rev"] > snap["rev"]
    await env.http.delete(f"/api/products/{mug}", headers=env.admin)
    deleted = await c.wait_type("pinned_products_update")
    assert [p["id"] for p in deleted["pinnedProducts"]] == [tote]
    assert deleted["rev"] > edited["rev"]


async def test_an_import_updating_a_pinned_product_reaches_the_show(env: Env) -> None:
    """A CSV import's new price of a pinned product is sent to the live show at once."""
    show = await env.start_show()
    mug = await env.product("Mug")
    await env.http.post(
        f"/api/livestreams/{show}/pin-product", json={"productId": mug}, headers=env.admin
    )
    c = await env.connect()
    await c.join(show)
    r = await env.http.post(
        "/api/products/import",
        content=b"Handle,Title,Variant Price\nmug,Mug,6.25\n",
        headers={**env.admin, "Content-Type": "text/csv"},
    )
    assert r.json()["updated"] == 1
    pins = await c.wait_type("pinned_products_update")
    assert [(p["id"], p["price"]) for p in pins["pinnedProducts"]] == [(mug, "6.25")]
