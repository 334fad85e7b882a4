"""End-to-end: the player embedded in a shop's own site (issue 16). A host page on another origin
(another port of the pages' host name, served by a second tiny server) puts the player in with
the one-line snippet; Buy hands the product to the host page's cart with ``liveshop:add-to-cart``
(or opens the product page when the host does not take it); a host page whose origin is not in
LIVESHOP_EMBED_ORIGINS gets no frame (CSP frame-ancestors) and no message, nor any when the frame
loads without that header. The studio's snippet works as pasted; ``data-show`` frames one show; a
product's clip framed on a shop page hands Buy to that shop's cart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from liveshop.media.netns import Namespace
from tests.browser.conftest import PAGE_HOST, PHONE, SCREENSHOTS, PageErrors, Shop
from tests.browser.hostpage import host_page
from tests.browser.test_mp4_replays import show_with_a_clip
from tests.browser.test_pages import IMAGES_LOADED, seller_goes_live, seller_logs_in, video_plays
from tests.waiting import until

pytestmark = pytest.mark.browser

MESSAGES = "(type) => window.received.filter((m) => m.data && m.data.type === type)"


async def live_show_with_pin(shop: Shop) -> tuple[int, dict[str, Any]]:
    r = await shop.http.post(
        "/api/livestreams", json={"title": "Workshop live"}, headers=shop.admin
    )
    show_id: int = r.json()["livestream"]["id"]
    product = shop.products[0]
    r = await shop.http.post(
        f"/api/livestreams/{show_id}/pin-product",
        json={"productId": product["id"]},
        headers=shop.admin,
    )
    assert r.status_code == 200, r.text
    return show_id, product


async def received(page: Any, kind: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate(MESSAGES, kind)
    return result


async def buy_in_frame(page: Any, product: dict[str, Any]) -> None:
    frame = page.frame_locator("iframe.liveshop-player")
    await expect(frame.locator("#live-badge")).to_be_visible()
    await frame.get_by_role("link", name=f"Buy {product['name']}").click()


async def test_buy_hands_the_product_to_the_host_pages_cart(
    make_shop: Any, open_page: Any, browser_net: Namespace
) -> None:
    """An allowed host page gets liveshop:add-to-cart from its own player origin; its cart takes it."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        host.liveshop = shop.server.url
        show_id, product = await live_show_with_pin(shop)
        page = await open_page("shop-site")
        await page.goto(host.url)
        await buy_in_frame(page, product)
        await expect(page.locator("#cart li")).to_have_text(
            f"{product['name']} — {product['price']} {product['currency']}"
        )
        (message,) = await received(page, "liveshop:add-to-cart")
        assert message["origin"] == shop.server.url
        assert message["data"]["product"] == {
            "id": product["id"],
            "sku": None,
            "name": product["name"],
            "price": product["price"],
            "currency": product["currency"],
            "productUrl": shop.server.url + product["productUrl"],
        }
        states = await received(page, "liveshop:state")
        assert any(
            m["data"]["state"] == "live" and m["data"]["livestreamId"] == show_id for m in states
        )
        # the host acknowledged: the player settled it as taken by the cart, no product page
        await expect(
            page.frame_locator("iframe.liveshop-player").locator("html")
        ).to_have_attribute("data-last-handoff", "cart")
        assert len(page.context.pages) == 1


async def test_buy_opens_the_product_page_when_the_host_does_not_answer(
    make_shop: Any, open_page: Any, browser_net: Namespace
) -> None:
    """A host page that does not take the product: the player opens the product page instead."""
    async with host_page(browser_net.near, PAGE_HOST, take=False) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        host.liveshop = shop.server.url
        _, product = await live_show_with_pin(shop)
        page = await open_page("shop-site")
        await page.goto(host.url)
        async with page.context.expect_page(timeout=5_000) as popup_info:
            await buy_in_frame(page, product)
        popup = await popup_info.value
        assert popup.url == shop.server.url + product["productUrl"]
        await expect(
            page.frame_locator("iframe.liveshop-player").locator("html")
        ).to_have_attribute("data-last-handoff", "product-page")
        assert len(await received(page, "liveshop:add-to-cart")) == 1


async def test_ended_show_is_reported_to_the_host(
    make_shop: Any, open_page: Any, browser_net: Namespace
) -> None:
    """When the show ends, the host page gets liveshop:state ended."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        host.liveshop = shop.server.url
        show_id, _ = await live_show_with_pin(shop)
        page = await open_page("shop-site")
        await page.goto(host.url)
        await expect(
            page.frame_locator("iframe.liveshop-player").locator("#live-badge")
        ).to_be_visible()
        await shop.http.post(f"/api/livestreams/{show_id}/stop", headers=shop.admin)

        async def ended() -> bool:
            return any(
                m["data"]["state"] == "ended" for m in await received(page, "liveshop:state")
            )

        await until(ended, timeout=10)


async def test_host_not_allowed_gets_no_frame_and_no_message(
    make_shop: Any, open_page: Any, browser_net: Namespace, page_errors: PageErrors
) -> None:
    """A page whose origin is not listed: frame-ancestors refuses the frame, nothing is posted."""
    async with (
        host_page(browser_net.near, PAGE_HOST) as allowed,
        host_page(browser_net.near, PAGE_HOST) as other,
    ):
        shop = await make_shop("p2p", embed_origins=allowed.origin)
        other.liveshop = shop.server.url
        await live_show_with_pin(shop)
        refused: list[str] = []
        page = await open_page("other-site")
        page.on(
            "console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None
        )
        await page.goto(other.url)
        await until(lambda: bool(refused), timeout=10)
        assert allowed.origin in refused[0]
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.locator("#app")).to_have_count(0)
        assert await page.evaluate("window.received") == []
        # Chrome logs the refusal as a console error: it is what this test expects
        page_errors.errors[:] = [e for e in page_errors.errors if "frame-ancestors" not in e]


async def test_embed_screenshot(make_shop: Any, open_page: Any, browser_net: Namespace) -> None:
    """The player in a shop's page, live with video, chat and a pinned product bought into the
    shop's own cart (README screenshot)."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        host.liveshop = shop.server.url
        seller = await open_page("seller")
        await seller_logs_in(seller, shop)
        await seller_goes_live(seller, "Workshop live: new mugs")
        await (
            seller.locator("#catalogue-list")
            .get_by_role("button", name=f"Pin {shop.products[0]['name']}")
            .click()
        )
        await seller.get_by_label("Message to the chat").fill("Welcome! Ask me anything.")
        await seller.locator("#chat-form").get_by_role("button", name="Send").click()
        page = await open_page("shop-site", viewport={"width": 1280, "height": 900})
        await page.goto(host.url)
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.locator(".product-card")).to_have_count(1)
        await expect(frame.locator(".chat-msg")).to_have_count(1)
        await video_plays(page.frames[1])
        await page.frames[1].wait_for_function(IMAGES_LOADED)
        await frame.get_by_role("link", name=f"Buy {shop.products[0]['name']}").click()
        await expect(page.locator("#cart li")).to_have_count(1)  # Buy went to the shop's cart
        await page.screenshot(path=str(SCREENSHOTS / "embed-desktop.png"))


async def test_player_stands_upright_on_a_phone(
    make_shop: Any, open_page: Any, browser_net: Namespace
) -> None:
    """On a phone-wide host page the snippet's frame is taller than wide and fits the width."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        host.liveshop = shop.server.url
        await live_show_with_pin(shop)
        page = await open_page("shop-site-phone", viewport=PHONE, is_mobile=True, has_touch=True)
        await page.goto(host.url)
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.locator("#live-badge")).to_be_visible()
        box = await page.locator("iframe.liveshop-player").bounding_box()
        assert box is not None and box["height"] > box["width"], box
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        await expect(
            frame.get_by_role("link", name=f"Buy {shop.products[0]['name']}")
        ).to_be_visible()


async def test_the_studios_snippet_plays_the_live_show_in_the_shop_page(
    make_shop: Any, open_page: Any, browser_net: Namespace
) -> None:
    """The line the studio shows, pasted as is into an allowed shop page, plays the live show."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        seller = await open_page("seller")
        await seller_logs_in(seller, shop)
        panel = seller.locator("#embed-panel")
        await expect(panel).to_contain_text(f"Sites allowed to embed it: {host.origin}.")
        host.snippet = await panel.get_by_label("Embed snippet", exact=True).input_value()
        assert f'src="{shop.server.url}/static/embed.js"' in host.snippet, host.snippet
        await seller_goes_live(seller, "Straight from the studio")
        page = await open_page("shop-site")
        await page.goto(host.url)
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.locator("#show-title")).to_have_text("Straight from the studio")
        await video_plays(page.frames[1])


async def test_a_snippet_for_one_show_frames_its_countdown_then_the_live_show(
    make_shop: Any, open_page: Any, browser_net: Namespace
) -> None:
    """data-show="{id}" frames /embed/{id}: an upcoming show's countdown, then the show once live."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", embed_origins=host.origin)
        at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()
        r = await shop.http.post(
            "/api/livestreams/scheduled",
            json={"title": "Sunday mug drop", "scheduledAt": at},
            headers=shop.admin,
        )
        assert r.status_code == 201, r.text
        show_id = r.json()["livestream"]["id"]
        host.snippet = (
            f'<script src="{shop.server.url}/static/embed.js" data-show="{show_id}" async></script>'
        )
        page = await open_page("shop-site")
        await page.goto(host.url)
        assert await page.locator("iframe.liveshop-player").get_attribute("src") == (
            f"{shop.server.url}/embed/{show_id}"
        )
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.get_by_role("heading", name="Sunday mug drop")).to_be_visible()
        await expect(frame.locator(".upcoming-countdown")).to_have_text(
            re.compile(r"^Starts in \d\d:\d\d:\d\d$")
        )

        async def state_was(state: str) -> bool:
            return any(
                m["data"]["state"] == state and m["data"]["livestreamId"] == show_id
                for m in await received(page, "liveshop:state")
            )

        await until(lambda: state_was("upcoming"), timeout=10)
        r = await shop.http.post(f"/api/livestreams/{show_id}/go-live", headers=shop.admin)
        assert r.status_code == 200, r.text
        await expect(frame.locator("#live-badge")).to_be_visible()
        await until(lambda: state_was("live"), timeout=10)


def without_csp(shop: Shop) -> Any:
    """A route handler serving the player as if a proxy had dropped its Content-Security-Policy
    header on the way (fetched from the server itself: Playwright's own fetch cannot resolve the
    pages' host name)."""

    async def handle(route: Any) -> None:
        path = route.request.url.removeprefix(shop.server.url)
        response = await shop.http.get(path)
        headers = {
            k: v for k, v in response.headers.items() if k.lower() != "content-security-policy"
        }
        await route.fulfill(status=response.status_code, headers=headers, body=response.content)

    return handle


async def test_a_host_not_allowed_gets_nothing_even_without_frame_ancestors(
    make_shop: Any, open_page: Any, browser_net: Namespace, page_errors: PageErrors
) -> None:
    """Frame-ancestors lost on the way: the player still posts nothing to a host not listed, and
    Buy opens the product page."""
    async with (
        host_page(browser_net.near, PAGE_HOST) as allowed,
        host_page(browser_net.near, PAGE_HOST) as other,
    ):
        shop = await make_shop("p2p", embed_origins=allowed.origin)
        other.liveshop = shop.server.url
        _, product = await live_show_with_pin(shop)
        page = await open_page("other-site")
        await page.route(f"{shop.server.url}/embed/**", without_csp(shop))
        await page.goto(other.url)
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.locator("#live-badge")).to_be_visible()  # framed this time
        async with page.context.expect_page(timeout=5_000) as popup_info:
            await frame.get_by_role("link", name=f"Buy {product['name']}").click()
        popup = await popup_info.value
        assert popup.url == shop.server.url + product["productUrl"]
        assert await page.evaluate("window.received") == []
        assert await frame.locator("html").get_attribute("data-last-handoff") is None
    # a document fulfilled by the test has no server address, so Chromium's local network access
    # checks refuse its socket to the (local) server: an effect of the stand-in proxy, expected
    page_errors.errors[:] = [
        e for e in page_errors.errors if "ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS" not in e
    ]


# A shop's product page framing a clip itself (embed.js frames shows only), answering the player's
# add-to-cart as docs/protocol.md says: check the origin, take the product, ack to the sender.
CLIP_FRAME = """<iframe class="liveshop-player" src="{src}" title="Clip"
 style="display:block;width:100%;height:480px;border:0"></iframe>
<script>
window.addEventListener('message', (e) => {{
  if (e.origin !== '{origin}' || !e.data || e.data.type !== 'liveshop:add-to-cart') return;
  const li = document.createElement('li');
  li.textContent = e.data.product.name;
  document.getElementById('cart').append(li);
  e.source.postMessage({{type: 'liveshop:ack', id: e.data.id}}, e.origin);
}});
</script>"""


async def test_a_clip_on_a_product_page_hands_buy_to_the_shops_cart(
    make_shop: Any, open_page: Any, browser_net: Namespace, tmp_path: Any
) -> None:
    """A shop page framing a product's clip (embedUrl): it plays, and Buy goes to the shop's cart."""
    async with host_page(browser_net.near, PAGE_HOST) as host:
        shop = await make_shop("p2p", mp4_replays=True, embed_origins=host.origin)
        mug = shop.products[0]
        show_id = await show_with_a_clip(shop, tmp_path, mug)
        (clip,) = (await shop.http.get(f"/api/products/{mug['id']}/clips")).json()["clips"]
        host.snippet = CLIP_FRAME.format(
            src=shop.server.url + clip["embedUrl"], origin=shop.server.url
        )
        page = await open_page("product-page")
        await page.goto(host.url)
        frame = page.frame_locator("iframe.liveshop-player")
        await expect(frame.get_by_role("heading", name=mug["name"], level=1)).to_be_visible()
        await page.frames[1].wait_for_function(
            "() => { const v = document.querySelector('#clip-video');"
            " return v.readyState >= 2 && v.duration > 1; }",
            timeout=15_000,
        )
        await frame.get_by_role("link", name=f"Buy {mug['name']}").click()
        await expect(page.locator("#cart li")).to_have_text(mug["name"])
        await expect(frame.locator("html")).to_have_attribute("data-last-handoff", "cart")
        assert len(page.context.pages) == 1  # taken by the cart: no product page opened
        (handoff,) = await received(page, "liveshop:add-to-cart")
        assert (
            handoff["origin"] == shop.server.url and handoff["data"]["product"]["id"] == mug["id"]
        )
        last = (await received(page, "liveshop:state"))[-1]["data"]
        assert (last["state"], last["livestreamId"]) == ("clip", show_id)
