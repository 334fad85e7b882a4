"""End-to-end: replays that play everywhere. A show recorded in two parts replays whole from its
MP4 rendition in Chromium (and seeks); its product clips are listed; the studio shows the MP4's
progress; a studio tab reopened mid-show appends to the show's recording."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.async_api import expect

from tests.api.test_replays import rendition_done, upload_part
from tests.browser.conftest import Shop
from tests.browser.test_pages import seller_goes_live, seller_logs_in
from tests.browser.test_replays import PLAYABLE, SEEK, active_show_id, end_show, recorded_for
from tests.replay.samples import make_show_webm
from tests.waiting import until

pytestmark = pytest.mark.browser


async def two_part_show(shop: Shop, tmp_path: Any, pin: dict[str, Any] | None = None) -> int:
    """A show recorded in two parts (0–3 s, then 10–12 s after a reconnect), ``pin`` pinned from
    its start to its end."""
    http, admin = shop.http, shop.admin
    show = (await http.post("/api/livestreams", json={"title": "Two parts"}, headers=admin)).json()
    show_id: int = show["livestream"]["id"]
    if pin is not None:
        r = await http.post(
            f"/api/livestreams/{show_id}/pin-product", json={"productId": pin["id"]}, headers=admin
        )
        assert r.status_code == 200, r.text
    a = make_show_webm(tmp_path / "a.webm", 3.0).read_bytes()
    b = make_show_webm(tmp_path / "b.webm", 2.0, colour=(10, 200, 30)).read_bytes()
    await upload_part(http, admin, show_id, a, 0.0)
    await upload_part(http, admin, show_id, b, 10.0)
    return show_id


async def test_mp4_replay_plays_whole_and_seeks(
    make_shop: Any, open_page: Any, tmp_path: Any
) -> None:
    """The replay page plays the two-part show's MP4 (≈ 5 s) in Chromium and seeks into part 2."""
    shop = await make_shop("p2p", mp4_replays=True)
    show_id = await two_part_show(shop, tmp_path)
    await shop.http.post(f"/api/livestreams/{show_id}/stop", headers=shop.admin)
    rendition = await rendition_done(shop.http, show_id)

    viewer = await open_page("replay-viewer")
    assert await viewer.evaluate(
        "() => document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.640028, mp4a.40.2\"')"
    ), "this Chromium cannot play H.264/AAC"
    await viewer.goto(f"{shop.server.url}/replays/{show_id}")
    await viewer.wait_for_function(PLAYABLE, polling=200, timeout=15_000)
    src = await viewer.evaluate("() => document.querySelector('#replay-video').currentSrc")
    assert src.endswith(rendition["url"]), src  # the MP4: it is the only file with both parts
    duration = await viewer.evaluate("() => document.querySelector('#replay-video').duration")
    assert duration == pytest.approx(5.0, abs=0.5)
    at = await viewer.evaluate(SEEK, 4)
    assert at == pytest.approx(4, abs=0.1)
    await viewer.evaluate("() => document.querySelector('#replay-video').play()")
    await viewer.wait_for_function(
        "() => document.querySelector('#replay-video').currentTime > 4.3", timeout=10_000
    )


# A browser that cannot play WebM as a plain video file (iPhones' Safari): canPlayType says so.
NO_WEBM = """(() => {
  const real = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /webm|matroska/i.test(type) ? '' : real.call(this, type);
  };
})()"""


async def test_mp4_is_offered_where_webm_cannot_play(
    make_shop: Any, open_page: Any, tmp_path: Any
) -> None:
    """A one-part show: Chromium plays the WebM; a browser without WebM gets the MP4, and seeks."""
    shop = await make_shop("p2p", mp4_replays=True)
    http, admin = shop.http, shop.admin
    show = (await http.post("/api/livestreams", json={"title": "One"}, headers=admin)).json()
    show_id = show["livestream"]["id"]
    webm = make_show_webm(tmp_path / "a.webm", 3.0).read_bytes()
    livestream = await upload_part(http, admin, show_id, webm, 0.0)
    await http.post(f"/api/livestreams/{show_id}/stop", headers=admin)
    rendition = await rendition_done(http, show_id)
    current = "() => document.querySelector('#replay-video').currentSrc"

    chromium = await open_page("webm-viewer")
    await chromium.goto(f"{shop.server.url}/replays/{show_id}")
    await chromium.wait_for_function(PLAYABLE, polling=200, timeout=15_000)
    assert (await chromium.evaluate(current)).endswith(livestream["videoUrl"])

    phone = await open_page("no-webm-viewer")
    await phone.add_init_script(NO_WEBM)
    await phone.goto(f"{shop.server.url}/replays/{show_id}")
    await phone.wait_for_function(PLAYABLE, polling=200, timeout=15_000)
    assert (await phone.evaluate(current)).endswith(rendition["url"])
    assert await phone.evaluate(SEEK, 2) == pytest.approx(2, abs=0.1)


async def show_with_a_clip(shop: Shop, tmp_path: Any, product: dict[str, Any]) -> int:
    """An ended two-part show with ``product`` pinned throughout; returns once its clip is cut."""
    show_id = await two_part_show(shop, tmp_path, pin=product)
    http, admin = shop.http, shop.admin
    started = time.monotonic()
    # the pin must cover over a second of the first part (shorter pins make no clip): the show
    # runs 2.5 s of wall time before it stops, however fast the uploads went
    await until(lambda: time.monotonic() - started >= 2.5, message="2.5 s of show")
    await http.post(f"/api/livestreams/{show_id}/stop", headers=admin)
    await rendition_done(http, show_id)

    async def cut() -> bool:
        clips = (await http.get(f"/api/livestreams/{show_id}/clips")).json()["clips"]
        return bool(clips) and all(c["state"] == "done" for c in clips)

    try:
        await until(cut, timeout=60, interval=0.2, message="the clip")
    except AssertionError:  # say what the server holds
        print((await http.get(f"/api/livestreams/{show_id}/clips")).json())
        print((await http.get(f"/api/livestreams/{show_id}/rendition")).json())
        print((await http.get(f"/api/livestreams/{show_id}/timeline")).json()["pins"])
        raise
    return show_id


async def test_clips_are_listed_on_the_replay_page(
    make_shop: Any, open_page: Any, tmp_path: Any
) -> None:
    """A pinned product's clip is listed on the replay page and its page plays it."""
    shop = await make_shop("p2p", mp4_replays=True)
    mug = shop.products[0]
    show_id = await show_with_a_clip(shop, tmp_path, mug)
    viewer = await open_page("replay-viewer")
    await viewer.goto(f"{shop.server.url}/replays/{show_id}")
    clip = viewer.locator("#clip-list .clip-item")
    await expect(clip).to_have_count(1)
    await expect(clip.locator(".clip-title")).to_have_text(mug["name"])
    await clip.locator(".clip-title").click()
    await expect(viewer.get_by_role("heading", name=mug["name"], level=1)).to_be_visible()
    await viewer.wait_for_function(
        "() => { const v = document.querySelector('#clip-video'); return v.readyState >= 2 && v.duration > 1; }",
        timeout=15_000,
    )
    await expect(viewer.locator("#clip-product .product-card")).to_have_count(1)


async def test_reopened_studio_appends_and_shows_mp4_progress(
    make_shop: Any, open_page: Any
) -> None:
    """A studio reopened mid-show records the next part; the replay's MP4 joins both parts and
    the studio shows it being made, then ready."""
    shop = await make_shop("p2p", mp4_replays=True)
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Reopened")
    show_id = await active_show_id(shop)
    await recorded_for(seller, 4)
    await seller.reload()  # the tab is closed and opened again, mid-show
    await expect(seller.locator("#studio-view")).to_be_visible()
    await seller.wait_for_function("() => document.querySelector('#preview').videoWidth > 0")
    await seller.get_by_role("button", name="Open it", exact=True).click()
    await expect(seller.locator("#rec-status")).to_have_attribute("data-state", "recording")
    await recorded_for(seller, 4)
    await end_show(seller, show_id)

    recordings = (await shop.http.get(f"/api/livestreams/{show_id}/recordings")).json()
    parts = recordings["recordings"]
    assert [r["source"] for r in parts] == ["part", "part"], parts
    assert parts[1]["startOffsetSeconds"] >= parts[0]["durationSeconds"] - 0.5, parts
    status = seller.locator("#mp4-status")
    await expect(status).to_have_attribute("data-state", "done", timeout=60_000)
    await expect(status.get_by_role("link", name="download")).to_be_visible()
    rendition = (await shop.http.get(f"/api/livestreams/{show_id}/rendition")).json()
    total = sum(r["durationSeconds"] for r in parts)
    assert rendition["durationSeconds"] == pytest.approx(total, abs=1.0)
    assert len(rendition["parts"]) == 2


async def test_seller_cuts_a_highlight_in_the_studio(make_shop: Any, open_page: Any) -> None:
    """After the show the seller types a start and an end: the highlight is cut and linked."""
    shop = await make_shop("p2p", mp4_replays=True)
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Highlights")
    show_id = await active_show_id(shop)
    await recorded_for(seller, 5)
    await end_show(seller, show_id)
    form = seller.locator("#highlight-form")
    await form.get_by_label("Start").fill("0:01")
    await form.get_by_label("End").fill("4")
    await form.get_by_placeholder("Title (optional)").fill("Unboxing")
    await form.get_by_role("button", name="Cut highlight").click()
    line = seller.locator("#highlight-list .clip-item")
    await expect(line).to_have_attribute("data-state", "done", timeout=60_000)
    link = line.get_by_role("link", name="Unboxing")
    clip_id = int((await line.get_attribute("data-clip-id")) or 0)
    await expect(link).to_have_attribute("href", f"/clips/{clip_id}")
    clip = (await shop.http.get(f"/api/clips/{clip_id}")).json()["clip"]
    assert (clip["startSeconds"], clip["endSeconds"]) == (1, 4)
    assert clip["durationSeconds"] == pytest.approx(3, abs=1.0)
