"""Chromium publishes simulcast from the studio (LIVESHOP_SIMULCAST, sfu): the server receives the
layers, a phone-sized watch page is sent a lower one, and the studio counts viewers per layer."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE
from tests.browser.test_pages import seller_goes_live, seller_logs_in, video_plays
from tests.waiting import until

pytestmark = pytest.mark.browser


async def test_studio_simulcast_reaches_a_phone_viewer_on_a_lower_layer(
    make_shop: Any, open_page: Any
) -> None:
    """The studio's three encodings arrive as layers; a phone player is not sent the full one."""
    shop = await make_shop("sfu", simulcast=True)
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Simulcast drop")
    show = (await shop.http.get("/api/livestreams/active", headers=shop.admin)).json()
    show_id = show["livestream"]["id"]

    async def layers() -> list[str]:
        stats = (
            await shop.http.get(f"/api/livestreams/{show_id}/stats", headers=shop.admin)
        ).json()
        publisher = stats.get("publisher") or {}
        return [x["rid"] for x in publisher.get("layers", []) if x["bitrateKbps"] > 0]

    flowing = await until(lambda: _at_least(layers, 2), timeout=40, message="two layers flowing")
    assert set(flowing) <= {"f", "h", "q"}

    phone = await open_page("phone", viewport=PHONE)
    await phone.goto(shop.server.url + "/")
    await video_plays(phone, 30_000)

    async def phone_layer() -> str | None:
        stats = (
            await shop.http.get(f"/api/livestreams/{show_id}/stats", headers=shop.admin)
        ).json()
        links = stats["viewerLinks"]
        return links[0]["layer"] if links and links[0]["layer"] in ("h", "q") else None

    await until(phone_layer, timeout=30, message="the phone on a lower layer")
    await expect(seller.locator("#layers")).to_contain_text("1", timeout=15_000)


async def _at_least(fetch: Any, count: int) -> list[str] | None:
    names: list[str] = await fetch()
    return names if len(names) >= count else None
