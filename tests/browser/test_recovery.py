"""Automatic recovery in sfu mode: a page whose network drops for a while picks up on its own.

The page under test runs in a Chromium of its own, in a namespace of its own (its pages still reach
the server on the browser namespace's near address, over this side); the other page runs in the
session's Chromium. Cutting the link = an nftables netdev table dropping every packet on the
namespace's veth, both ways (:func:`tests.medianet.link_cut`): only that page's media, HTTP and
WebSocket traffic vanish, silently, as when a phone loses its network.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from liveshop.media.netns import Namespace
from liveshop.storage import recordings
from tests.browser.conftest import CHROMIUM_ARGS, PageErrors, Shop, chromium_in, page_opener
from tests.browser.test_janus_client import frames_decoded
from tests.browser.test_pages import seller_goes_live, seller_logs_in, video_plays
from tests.conftest import CI
from tests.medianet import link_cut
from tests.waiting import until

pytestmark = pytest.mark.browser

OUTAGE_S = 5.0  # the link stays down at least this long, and until the page has begun to recover
MARKER = "() => { window.__samePage = 'yes'; }"
SAME_PAGE = "() => window.__samePage"


@pytest.fixture
async def own_browser(
    browser_net: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Namespace, Any]]:
    """A Chromium in a namespace of its own, whose pages open the server of ``browser_net``."""
    if shutil.which("nft") is None:
        if CI:
            pytest.fail("CI=true: nft is missing (`make nft`)")
        pytest.skip("nft is missing: links cannot be cut")
    with Namespace() as ns:
        args = list(CHROMIUM_ARGS)
        async with chromium_in(ns, tmp_path_factory, args, page_address=browser_net.near) as b:
            yield ns, b


async def _live_show(shop: Shop, seller: Any) -> int:
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Recovery")
    await expect(seller.locator("#publish-status")).to_have_text("Your video is live.")
    r = await shop.http.get("/api/livestreams/active")
    return int(r.json()["livestream"]["id"])


async def _outage(ns: Namespace, page: Any, recovery: Any) -> None:
    """Cut ``ns``'s link for OUTAGE_S and until ``page`` sends the request ``recovery`` matches."""
    started = time.monotonic()
    with link_cut(ns):
        async with page.expect_request(recovery, timeout=45_000):
            pass
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))


async def test_a_viewer_whose_link_drops_plays_again_without_reload(
    make_shop: Any, browser: Any, own_browser: tuple[Namespace, Any], page_errors: PageErrors
) -> None:
    """A shopper's link is down ≥ 5 s: the same page says so, re-does WHEP and plays again."""
    ns, viewer_browser = own_browser
    shop = await make_shop("sfu")
    media = shop.server.app.state.media
    async with (
        page_opener(browser, page_errors) as open_page,
        page_opener(viewer_browser, page_errors) as open_viewer,
    ):
        seller = await open_page("seller")
        show_id = await _live_show(shop, seller)
        viewer = await open_viewer("shopper")
        await viewer.goto(f"{shop.server.url}/live/{show_id}")
        await video_plays(viewer)
        await viewer.evaluate(MARKER)
        first = set(media.rooms[show_id].viewers)

        def rewhep(request: Any) -> bool:
            return bool(request.method == "POST" and request.url.endswith("/whep"))

        async def says_reconnecting() -> None:
            await expect(viewer.locator("#media-status")).to_contain_text(
                "reconnecting", timeout=30_000
            )

        async with asyncio.TaskGroup() as group:
            group.create_task(_outage(ns, viewer, rewhep))
            group.create_task(says_reconnecting())

        await frames_decoded(viewer, 45_000)
        await video_plays(viewer)
        await expect(viewer.locator("#media-status")).to_be_hidden()
        assert await viewer.evaluate(SAME_PAGE) == "yes"  # no reload
        # a new WHEP session replaced the lost one (which the page DELETEd or the server dropped)
        await until(
            lambda: len(media.rooms[show_id].viewers) == 1,
            timeout=30,
            message="one viewer session left",
        )
        assert set(media.rooms[show_id].viewers).isdisjoint(first)


async def test_a_seller_whose_link_drops_publishes_again_and_viewers_resume(
    make_shop: Any, browser: Any, own_browser: tuple[Namespace, Any], page_errors: PageErrors
) -> None:
    """The seller's link is down ≥ 5 s: the studio re-publishes, the shopper resumes, the MP4 replay joins both parts."""
    ns, seller_browser = own_browser
    # requests the studio sends into the outage: re-publish attempts, the thumbnail, its stats
    page_errors.allow_http_failures("/whip", "/thumbnail", "/stats")
    shop = await make_shop("sfu", mp4_replays=True)
    media = shop.server.app.state.media
    async with (
        page_opener(seller_browser, page_errors) as open_seller,
        page_opener(browser, page_errors) as open_page,
    ):
        seller = await open_seller("seller")
        show_id = await _live_show(shop, seller)
        viewer = await open_page("shopper")
        await viewer.goto(f"{shop.server.url}/live/{show_id}")
        await video_plays(viewer)
        await viewer.evaluate(MARKER)
        room = media.rooms[show_id]
        first_publisher = room.publisher.session_id
        viewers = set(room.viewers)

        def republish(request: Any) -> bool:
            return bool(request.method == "POST" and request.url.endswith("/whip?replace=1"))

        async def says_reconnecting() -> None:
            await expect(seller.locator("#publish-status")).to_contain_text(
                "reconnecting", timeout=30_000
            )

        async with asyncio.TaskGroup() as group:
            group.create_task(_outage(ns, seller, republish))
            group.create_task(says_reconnecting())

        async def republished() -> bool:
            now = room.publisher
            return bool(now and now.session_id != first_publisher and now.connected)

        await until(republished, timeout=45, message="the studio published again")
        await expect(seller.locator("#publish-status")).to_have_text("Your video is live.")
        await frames_decoded(viewer, 30_000)
        assert await viewer.evaluate(SAME_PAGE) == "yes"
        assert set(room.viewers) == viewers  # the shopper kept its session: no re-WHEP needed

        await seller.get_by_role("button", name="End show").click()
        await seller.get_by_role("dialog").get_by_role("button", name="End show").click()

        async def two_segments() -> list[Any]:
            async with shop.server.app.state.db.session() as session:
                rows = await recordings.for_show(session, show_id)
            names = [r.path.rsplit("/", 1)[-1].split(".")[0] for r in rows if r.source == "server"]
            return rows if names == ["recording", "recording-2"] else []

        rows = await until(two_segments, timeout=30, message="two recorded segments")
        # both parts of the show are in the replay's files (before and after the outage)
        assert all((r.duration_seconds or 0) > 0 for r in rows), [r.duration_seconds for r in rows]

        async def replay_joins_both() -> dict[str, Any] | None:
            r = await shop.http.get(f"/api/livestreams/{show_id}/rendition")
            rendition: dict[str, Any] = r.json()
            assert rendition["state"] != "failed", rendition
            # a show's end may come before its last part: the MP4 is then made again with it
            return (
                rendition if rendition["state"] == "done" and len(rendition["parts"]) > 1 else None
            )

        # the MP4 replay joins both parts, one after the other on the show's clock
        rendition = await until(
            replay_joins_both, timeout=90, interval=0.5, message="an MP4 of both parts"
        )
        first, second = rendition["parts"]
        assert second["showOffsetSeconds"] >= first["showOffsetSeconds"] + first["durationSeconds"]
