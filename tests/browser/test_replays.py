"""End-to-end: every show is kept. The studio records a p2p show while live (MediaRecorder chunks
uploaded as they come), ends it, and the replay page plays it with the chat and the pins of each
moment; the studio shows the report; the watch page and /replays list the replay. A second show
checks that the upload survives a network drop, a chunk the server never got (409 missing) and a
full disk (507).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, PageErrors, Shop
from tests.browser.test_pages import NO_HORIZONTAL_SCROLL, seller_goes_live, seller_logs_in

pytestmark = pytest.mark.browser

RECORDED_SECONDS = "(n) => Number(document.querySelector('#rec-status').dataset.seconds) >= n"

# True once the replay's <video> knows its (finite) duration and can show a frame.
PLAYABLE = """() => {
  const v = document.querySelector('#replay-video');
  return v && v.readyState >= 2 && Number.isFinite(v.duration) && v.duration > 0;
}"""

# Seek the replay to t (seconds, or the end when null) and wait for `seeked`.
SEEK = """(t) => new Promise((resolve) => {
  const v = document.querySelector('#replay-video');
  v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
  v.currentTime = t === null ? v.duration : t;
})"""


async def recorded_for(seller: Any, seconds: float) -> None:
    """Wait on the studio's own recording clock (not a sleep)."""
    await seller.wait_for_function(RECORDED_SECONDS, arg=seconds, polling=200, timeout=30_000)


async def seller_says(seller: Any, text: str) -> None:
    await seller.get_by_label("Message to the chat").fill(text)
    await seller.locator("#chat-form").get_by_role("button", name="Send").click()
    await expect(seller.locator(".chat-msg:not(.pending)", has_text=text)).to_have_count(1)


async def pin(seller: Any, product: dict[str, Any]) -> None:
    await (
        seller.locator("#catalogue-list")
        .get_by_role("button", name=f"Pin {product['name']}")
        .click()
    )
    await expect(
        seller.locator(f"#pinned-list li[data-product-id='{product['id']}']")
    ).to_be_visible()


async def unpin(seller: Any, product: dict[str, Any]) -> None:
    await (
        seller.locator("#pinned-list")
        .get_by_role("button", name=f"Unpin {product['name']}")
        .click()
    )
    await expect(
        seller.locator(f"#pinned-list li[data-product-id='{product['id']}']")
    ).to_have_count(0)


async def end_show(seller: Any, show_id: int) -> None:
    await seller.get_by_role("button", name="End show").click()
    await seller.get_by_role("dialog").get_by_role("button", name="End show").click()
    await expect(seller.get_by_role("heading", name="Show ended")).to_be_visible()
    # the recording is uploaded and completed (remuxed) before the link leads to the replay
    link = seller.locator("#replay-link")
    await expect(link).to_have_attribute("href", f"/replays/{show_id}", timeout=30_000)
    await expect(link).to_have_text("Watch the replay")
    await expect(seller.locator("#rec-summary")).to_have_attribute("data-state", "done")


async def active_show_id(shop: Shop) -> int:
    return (await shop.http.get("/api/livestreams/active")).json()["livestream"]["id"]


async def test_recorded_show_replays_in_step(make_shop: Any, open_page: Any) -> None:
    """A p2p show recorded by the studio replays with the chat and pins in step with seeking."""
    shop = await make_shop("p2p")
    url = shop.server.url
    mug, _beanie, tote = shop.products

    seller = await open_page("seller")
    thumbnails: list[int] = []

    async def on_response(response: Any) -> None:
        if response.request.method == "PUT" and response.url.endswith("/thumbnail"):
            thumbnails.append(response.status)

    seller.on("response", on_response)
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Recorded drop <i>")
    show_id = await active_show_id(shop)
    await expect(seller.locator("#rec-status")).to_have_attribute("data-state", "recording")

    # 0–6 s: the mug is on screen; "before" is said at ~2 s
    await pin(seller, mug)
    await recorded_for(seller, 2)
    await seller_says(seller, "Message before the switch")
    # ~6 s: the tote replaces the mug, then "after"
    await recorded_for(seller, 6)
    await unpin(seller, mug)
    await pin(seller, tote)
    await seller_says(seller, "Message after the switch")
    await recorded_for(seller, 10)
    # chunks went up while live, not only at the end
    uploaded = int(await seller.locator("#rec-status").get_attribute("data-uploaded") or 0)
    assert uploaded >= 3, uploaded
    await end_show(seller, show_id)

    show = (await shop.http.get(f"/api/livestreams/{show_id}")).json()["livestream"]
    assert show["isRecorded"] and show["videoUrl"] and show["thumbnailUrl"], show
    assert thumbnails == [200], thumbnails  # a frame of the camera, drawn by the studio
    assert 8 <= show["durationSeconds"] <= 20, show

    # the after-show report: a chart of viewers over time and the product table
    report = seller.locator("#report")
    await expect(report.get_by_role("img", name="Viewers over time")).to_be_visible()
    await expect(report.locator("tbody tr")).to_have_count(2)
    # the figure that tells many identities from few networks, and the counting rules beside it
    figures = (await shop.http.get(f"/api/livestreams/{show_id}/report", headers=shop.admin)).json()
    addresses = report.locator(".stat", has=seller.get_by_text("Unique addresses"))
    await expect(addresses.locator("dd")).to_have_text(str(figures["uniqueAddresses"]))
    await expect(report.get_by_text("count only from shoppers who had watched")).to_be_visible()
    names = await report.locator("tbody th").all_text_contents()
    assert sorted(names) == ["Canvas tote bag", "Ceramic pour-over set"], names

    # the replay, on a phone
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    viewer = await open_page("replay-viewer", **phone)
    await viewer.goto(f"{url}/replays/{show_id}")
    await expect(viewer.get_by_role("heading", name="Recorded drop <i>")).to_be_visible()
    await viewer.wait_for_function(PLAYABLE, polling=200, timeout=15_000)
    duration = await viewer.evaluate("() => document.querySelector('#replay-video').duration")
    assert 8 <= duration <= 20, duration

    chat = viewer.locator("#chat-list")
    cards = viewer.locator("#product-list .product-card")
    # the middle: said before it, not after; the mug (not yet the tote) on screen
    await viewer.evaluate(SEEK, 4)
    await expect(chat.locator(".chat-msg", has_text="Message before the switch")).to_have_count(1)
    await expect(chat.locator(".chat-msg", has_text="Message after the switch")).to_have_count(0)
    await expect(cards).to_have_count(1)
    await expect(cards.first).to_have_attribute("data-product-id", str(mug["id"]))
    await expect(cards.first.get_by_role("link", name="Buy Ceramic pour-over set")).to_be_visible()

    # the end: both messages, the tote instead of the mug
    await viewer.evaluate(SEEK, None)
    await expect(chat.locator(".chat-msg", has_text="Message after the switch")).to_have_count(1)
    await expect(chat.locator(".chat-msg", has_text="Message before the switch")).to_have_count(1)
    await expect(cards).to_have_count(1)
    await expect(cards.first).to_have_attribute("data-product-id", str(tote["id"]))

    # back to the start (after the first pin, which a loaded machine may take a second or more
    # to make, and before the first message, said at 2 s): the chat jumps back too
    await viewer.evaluate(SEEK, 1.8)
    await expect(chat.locator(".chat-msg")).to_have_count(0)
    await expect(viewer.locator("#chat-empty")).to_be_visible()
    await expect(cards.first).to_have_attribute("data-product-id", str(mug["id"]))
    assert await viewer.evaluate(NO_HORIZONTAL_SCROLL)

    # the video plays from there
    await viewer.evaluate("() => document.querySelector('#replay-video').play()")
    await viewer.wait_for_function(
        "() => document.querySelector('#replay-video').currentTime > 1", timeout=10_000
    )

    # Buy on the replay reports the click too
    buy = cards.first.get_by_role("link", name="Buy Ceramic pour-over set")
    async with (
        viewer.context.expect_page() as popup_info,
        viewer.expect_request(f"**/api/livestreams/{show_id}/product-clicks") as click_info,
    ):
        await buy.click()
    await popup_info.value
    assert (await click_info.value).post_data_json == {"productId": mug["id"]}

    # /replays lists it with thumbnail, title, date, duration and likes
    await viewer.goto(f"{url}/replays")
    card = viewer.locator(f".replay-card[data-show-id='{show_id}']")
    await expect(card.locator(".replay-title")).to_have_text("Recorded drop <i>")
    await expect(card.locator(".replay-duration")).to_contain_text("00:1")
    await expect(card.locator(".replay-likes")).to_contain_text("0")
    await expect(card.locator("img")).to_have_attribute("src", show["thumbnailUrl"])
    await expect(card.get_by_role("link")).to_have_attribute("href", f"/replays/{show_id}")
    assert await viewer.evaluate(NO_HORIZONTAL_SCROLL)

    # the watch page: offline lists the latest replays; the ended show links to its replay
    await viewer.goto(f"{url}/")
    await expect(viewer.get_by_role("heading", name="We're offline right now")).to_be_visible()
    await expect(
        viewer.locator("#replay-list").get_by_role("link", name="Recorded drop <i>")
    ).to_have_attribute("href", f"/replays/{show_id}")
    await viewer.goto(f"{url}/live/{show_id}")
    await expect(viewer.get_by_role("heading", name="This show has ended")).to_be_visible()
    await expect(viewer.get_by_role("link", name="Watch the replay")).to_have_attribute(
        "href", f"/replays/{show_id}"
    )


async def test_upload_survives_drops_missing_chunks_and_full_disk(
    make_shop: Any, open_page: Any, page_errors: PageErrors
) -> None:
    """The studio's upload retries dropped chunks, re-sends missing ones on 409 and shows a full disk."""
    shop = await make_shop("p2p")
    # the failures below are provoked; the page must recover from each
    page_errors.allow_http_failures("/recording/chunks/", "/recording/complete")
    seller = await open_page("seller")
    attempts: dict[int, int] = {}

    async def flaky_network(route: Any) -> None:
        seq = int(route.request.url.rsplit("/", 1)[1])
        attempts[seq] = attempts.get(seq, 0) + 1
        first = attempts[seq] == 1
        if seq == 1 and first:
            await route.abort("connectionreset")  # the network drops
        elif seq == 2 and first:
            # acknowledged but never stored: only completion finds out (409 missing)
            body = {"seq": 2, "size": 1, "receivedBytes": 1}
            await route.fulfill(status=201, json=body)
        elif seq == 3 and first:
            await route.fulfill(status=507, json={"detail": "disk full"})
        else:
            await route.continue_()

    await seller.route("**/recording/chunks/*", flaky_network)
    completes: list[int] = []
    seller.on(
        "response",
        lambda r: completes.append(r.status) if r.url.endswith("/recording/complete") else None,
    )

    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Flaky upload")
    show_id = await active_show_id(shop)
    # the full disk is said (and goes away once the retry is stored)
    await expect(seller.locator("#rec-error")).to_contain_text("disk is full", timeout=15_000)
    await expect(seller.locator("#rec-error")).to_be_empty(timeout=15_000)
    await recorded_for(seller, 9)
    await end_show(seller, show_id)

    assert attempts[1] >= 2 and attempts[3] >= 2, attempts  # retried, from the first not acked
    assert attempts[2] >= 2, attempts  # re-sent after the 409
    assert completes[0] == 409 and completes[-1] == 200, completes
    show = (await shop.http.get(f"/api/livestreams/{show_id}")).json()["livestream"]
    assert show["isRecorded"] and 7 <= show["durationSeconds"] <= 20, show
