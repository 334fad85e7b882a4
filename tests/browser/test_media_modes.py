"""The pages and the server's media mode (GET /api/config): one they do not know is said clearly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Shop
from tests.browser.test_pages import seller_goes_live, seller_logs_in

pytestmark = pytest.mark.browser


async def claim_mode(page: Any, shop: Shop, mode: str) -> None:
    """The page's GET /api/config answers with ``mode`` (as a newer server might), the rest of
    the server's real answer kept."""

    async def answer(route: Any) -> None:
        config = (await shop.http.get("/api/config")).json()
        await route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({**config, "mediaMode": mode}),
        )

    await page.route("**/api/config", answer)


async def test_an_unknown_media_mode_is_said_and_the_rest_of_the_show_works(
    make_shop: Any, open_page: Any
) -> None:
    """Unknown media mode: both pages say the video cannot play; chat, pins, likes and Buy work."""
    shop = await make_shop("p2p")
    seller = await open_page("seller")
    await claim_mode(seller, shop, "hologram")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Mode check")
    await expect(seller.locator("#publish-status")).to_have_text(
        'Video cannot start: this page does not support the server\'s media mode "hologram" '
        "(try reloading)"
    )

    shopper = await open_page("shopper")
    await claim_mode(shopper, shop, "hologram")
    await shopper.goto(shop.server.url + "/")
    await expect(shopper.locator("#show-title")).to_have_text("Mode check")
    await expect(shopper.locator("#media-status")).to_have_text(
        'The video cannot play here: this page does not support the server\'s media mode "hologram" '
        "(try reloading)"
    )
    await expect(shopper.locator("#media-status")).to_be_visible()

    await shopper.get_by_label("Pick a display name to chat").fill("Ana")
    await shopper.get_by_role("button", name="Join chat").click()
    await shopper.get_by_label("Message", exact=True).fill("no video, still here")
    await shopper.get_by_role("button", name="Send").click()
    await expect(seller.locator(".chat-msg", has_text="no video, still here")).to_have_count(1)

    mug = shop.products[0]
    await seller.get_by_role("button", name=f"Pin {mug['name']}").click()
    card = shopper.locator(f".product-card[data-product-id='{mug['id']}']")
    buy = card.get_by_role("link", name=f"Buy {mug['name']}")
    await expect(buy).to_have_attribute("href", mug["productUrl"])

    await shopper.get_by_role("button", name="Like").click()
    await expect(seller.locator("#likes")).to_have_text("1")
