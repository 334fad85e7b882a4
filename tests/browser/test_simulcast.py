"""Chromium publishes simulcast from the studio (LIVESHOP_SIMULCAST, sfu): the server receives the
layers (VP8, or H.264 with LIVESHOP_VIDEO_CODEC=h264), a phone-sized watch page is sent a lower
one, and the studio counts viewers per layer; a
desktop watch page behind a 400 kb/s link (a Chromium in a namespace of its own, ``tc tbf`` on the
server's side of its veth) keeps playing on a lower layer and returns to the top one."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest
from playwright.async_api import expect

from liveshop.media.netns import Namespace
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    PHONE,
    PageErrors,
    Shop,
    chromium_in,
    page_opener,
)
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


async def test_an_h264_studio_publishes_h264_layers_that_a_viewer_plays(
    make_shop: Any, open_page: Any
) -> None:
    """LIVESHOP_VIDEO_CODEC=h264: the studio's simulcast layers arrive as H.264 and play."""
    shop = await make_shop("sfu", simulcast=True, video_codec="h264")
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "H.264 simulcast")
    show = (await shop.http.get("/api/livestreams/active", headers=shop.admin)).json()
    show_id = show["livestream"]["id"]

    async def h264_layers() -> list[str] | None:
        publisher = (await _stats(shop, show_id)).get("publisher") or {}
        flowing = [x["rid"] for x in publisher.get("layers", []) if x["bitrateKbps"] > 0]
        return flowing if publisher.get("codec") == "H264" and len(flowing) >= 2 else None

    await until(h264_layers, timeout=40, message="two H.264 layers flowing")
    viewer = await open_page("shopper")
    await viewer.goto(f"{shop.server.url}/live/{show_id}")
    await video_plays(viewer, 30_000)


async def _at_least(fetch: Any, count: int) -> list[str] | None:
    names: list[str] = await fetch()
    return names if len(names) >= count else None


# the watch page's picture: its width, decoded frames so far, and the clock it was read at
PICTURE = """() => {
  const v = document.querySelector('#video');
  return {width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames,
          at: performance.now() / 1000};
}"""
LIMIT = ("rate", "400kbit", "burst", "20kb", "latency", "300ms")
# the top layer must need more than the limit (Chromium starts "f" low and ramps it up)
TOP_OVER_LIMIT_KBPS = 500


def _tc(*args: str, check: bool = True) -> None:
    subprocess.run(["tc", "qdisc", *args], check=check, capture_output=True, timeout=10)


async def _stats(shop: Shop, show_id: int) -> dict[str, Any]:
    r = await shop.http.get(f"/api/livestreams/{show_id}/stats", headers=shop.admin)
    stats: dict[str, Any] = r.json()
    return stats


async def _top_width(shop: Shop, show_id: int, min_kbps: float = 300) -> int | None:
    """The width of the publisher's top layer ("f") while it flows at ``min_kbps`` or more with
    two others, else None (Chromium starts "f" only once its estimate of the uplink allows)."""
    publisher = (await _stats(shop, show_id)).get("publisher") or {}
    layers = {x["rid"]: x for x in publisher.get("layers", []) if x["bitrateKbps"] > 0}
    top = layers.get("f")
    if len(layers) < 3 or top is None or top["bitrateKbps"] < min_kbps or not top["width"]:
        return None
    assert top["width"] == max(x["width"] or 0 for x in layers.values()), layers
    return int(top["width"])


# one rerun: two Chromiums, the server and the rest of the suite share two cores; once in a clean
# clone's run the picture was not below the top 15 s after the limit (4 of 4 runs here under two
# busy loops took 1.6-5.0 s). A failure reports what the picture and the link said meanwhile.
@pytest.mark.flaky(reruns=1)
async def test_a_desktop_viewer_behind_400_kbps_plays_a_lower_layer_then_the_top_one_again(
    make_shop: Any,
    browser: Any,
    browser_net: Namespace,
    tmp_path_factory: pytest.TempPathFactory,
    page_errors: PageErrors,
) -> None:
    """A desktop Chromium viewer at 400 kb/s keeps playing on a lower layer, then is back on the top one."""
    shop = await make_shop("sfu", simulcast=True)
    async with page_opener(browser, page_errors) as open_page:
        seller = await open_page("seller")
        await seller_logs_in(seller, shop)
        await seller_goes_live(seller, "Simulcast at 400k")
        show = (await shop.http.get("/api/livestreams/active", headers=shop.admin)).json()
        show_id = show["livestream"]["id"]
        await until(lambda: _top_width(shop, show_id), timeout=60, message="three layers flowing")
        # the viewer's Chromium in a namespace of its own: a rate limit on its veth holds back
        # only what the server sends to it (the seller's Chromium is in browser_net)
        with Namespace() as ns:
            try:
                async with (
                    chromium_in(
                        ns, tmp_path_factory, list(CHROMIUM_ARGS), page_address=browser_net.near
                    ) as viewer_browser,
                    page_opener(viewer_browser, page_errors) as open_viewer,
                ):
                    viewer = await open_viewer("shopper")  # desktop-sized: the top layer fits
                    await viewer.goto(f"{shop.server.url}/live/{show_id}")
                    await video_plays(viewer, 30_000)
                    await _follows_the_link(shop, show_id, ns, viewer)
            finally:
                _tc("del", "dev", ns.near_dev, "root", check=False)


async def _follows_the_link(shop: Shop, show_id: int, ns: Namespace, viewer: Any) -> None:
    async def width() -> int:
        return int((await viewer.evaluate(PICTURE))["width"])

    async def link() -> dict[str, Any]:
        links = (await _stats(shop, show_id))["viewerLinks"]
        assert len(links) == 1, links
        return dict(links[0])

    async def on_top(min_kbps: float = 300) -> bool:
        top = await _top_width(shop, show_id, min_kbps)
        return top is not None and await width() == top

    await until(
        lambda: on_top(TOP_OVER_LIMIT_KBPS), timeout=60, interval=0.5, message="the top layer"
    )
    top = await width()
    _tc("add", "dev", ns.near_dev, "root", "tbf", *LIMIT)
    limited = time.monotonic()

    seen: list[tuple[float, dict[str, Any], dict[str, Any]]] = []  # for a failure's report

    async def below_top() -> dict[str, Any] | None:
        picture, now = await viewer.evaluate(PICTURE), await link()
        seen.append((round(time.monotonic() - limited, 1), picture, now))
        return now if 0 < picture["width"] < top else None

    try:
        switched = await until(below_top, timeout=15, interval=0.2)
    except AssertionError:
        report = "\n".join(f"{t} s: {p} {k}" for t, p, k in seen[::5])
        raise AssertionError(f"no lower layer's picture 15 s after the limit:\n{report}") from None
    down_s = time.monotonic() - limited
    assert switched["layer"] in ("h", "q"), switched
    # a measurement window (not a synchronisation): the picture and the layer over 6 s
    samples: list[tuple[dict[str, Any], str | None]] = []

    async def window_over() -> bool:
        samples.append((await viewer.evaluate(PICTURE), (await link())["layer"]))
        return bool(samples[-1][0]["at"] - samples[0][0]["at"] >= 6)

    await until(window_over, timeout=20, interval=0.5)
    first, last = samples[0][0], samples[-1][0]
    fps = (last["frames"] - first["frames"]) / (last["at"] - first["at"])
    low_share = sum(0 < p["width"] < top for p, _ in samples) / len(samples)
    layers = "".join(layer or "-" for _, layer in samples)

    _tc("del", "dev", ns.near_dev, "root")
    lifted = time.monotonic()
    await until(on_top, timeout=40, interval=0.5, message="the top layer again")
    up_s = time.monotonic() - lifted
    await video_plays(viewer)
    print(
        f"\ntop {top} px; at 400 kb/s: below it {down_s:.1f} s after the limit (stats {switched}),"
        f" then {fps:.1f} fps, {low_share:.0%} of 0.5 s samples below {top} px, layers {layers};"
        f" back on {top} px {up_s:.1f} s after the limit was lifted"
    )
    assert fps >= 8, f"{fps:.1f} fps at 400 kb/s"  # the studio sends about 20
    assert low_share >= 0.6, samples


async def test_the_watch_page_reports_its_playback_to_the_stats_route(
    make_shop: Any, open_page: Any
) -> None:
    """The watch page's own counters (frames decoded, freezes) reach the viewer's link."""
    shop = await make_shop("sfu")
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Playback report")
    show = (await shop.http.get("/api/livestreams/active", headers=shop.admin)).json()
    show_id = show["livestream"]["id"]
    viewer = await open_page("viewer")
    await viewer.goto(shop.server.url + "/")
    await video_plays(viewer, 30_000)

    async def reported() -> dict[str, Any] | None:
        stats = (
            await shop.http.get(f"/api/livestreams/{show_id}/stats", headers=shop.admin)
        ).json()
        links = stats["viewerLinks"]
        return links[0] if links and (links[0]["framesDecoded"] or 0) > 0 else None

    link = await until(reported, timeout=20, message="the page's playback report")
    assert isinstance(link["freezes"], int) and link["freezeSeconds"] >= 0
