"""The studio and the watch page with ``LIVESHOP_MEDIA_MODE=janus``, over two real Janus instances.

The Janus instances run in the browser tests' network namespace (tests/browser/conftest.py), on its
far address like Chromium: the namespaces are not routed to each other. This Chromium keeps its
default of hiding host addresses behind mDNS ``.local`` names, as real shoppers' browsers do, which
Janus's libnice cannot resolve: the media must connect through the candidates Janus learns from
Chromium's connectivity checks (peer-reflexive).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from liveshop.media.netns import Namespace
from liveshop.media.synthetic import answer, offer
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    PHONE,
    SCREENSHOTS,
    PageErrors,
    Shop,
    chromium_in,
    page_opener,
)
from tests.browser.test_pages import (
    phone_layout_holds,
    run_live_show,
    seller_goes_live,
    seller_logs_in,
    video_plays,
)
from tests.media.janus_fixture import JanusCluster, require_janus
from tests.media.peers import Publisher
from tests.waiting import until

pytestmark = pytest.mark.browser

SMALL_PLAYER = {"width": 480, "height": 300}
PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def janus_in_browser_net(browser_net: Namespace, tmp_path: Path) -> Iterator[JanusCluster]:
    """Two Janus instances on the browser namespace's far address (index 0: the first origin)."""
    require_janus()
    cluster = JanusCluster(tmp_path / "janus", 2, browser_net)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def mdns_browser(
    browser_net: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """Chromium offering mDNS host names, not addresses, on pages without camera permission (its
    default: a page allowed to capture may show addresses). No ``--use-fake-ui-for-media-stream``
    (it allows every page): the seller's context is granted the camera (:func:`seller_may_film`)."""
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    async with chromium_in(browser_net, tmp_path_factory, args, hide_local_ips=True) as b:
        yield b


def seller_may_film(open_page: Any, whep_offers: list[str], opened: dict[str, Any]) -> Any:
    """``open_page`` granting camera and microphone to the seller's pages only (as a user would);
    the shoppers' WHEP offers are collected in ``whep_offers``, every page in ``opened``."""

    def collect(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/whep"):
            whep_offers.append(request.post_data or "")

    async def make(name: str, **options: Any) -> Any:
        if name.startswith("seller"):
            options.setdefault("permissions", ["camera", "microphone"])
        page = opened[name] = await open_page(name, **options)
        if not name.startswith("seller"):
            page.on("request", collect)
        return page

    return make


# True once the <video> decoded new frames between two polls (a live stream's currentTime moves on
# without frames; decoded frames do not)
FRAMES_ADVANCE = """() => {
  const q = document.querySelector('#video').getVideoPlaybackQuality();
  const prev = window.__frames;
  window.__frames = q.totalVideoFrames;
  return prev !== undefined && q.totalVideoFrames > prev + 5;
}"""


async def frames_decoded(page: Any, wait_ms: float = 15_000) -> None:
    await page.evaluate("() => { window.__frames = undefined; }")
    await page.wait_for_function(FRAMES_ADVANCE, polling=500, timeout=wait_ms)


async def janus_shop(make_shop: Any, cluster: JanusCluster, **settings: Any) -> Shop:
    shop: Shop = await make_shop(
        "janus",
        **settings,
        janus_urls=",".join(cluster.urls),
        janus_api_secret=cluster.api_secret,
        janus_admin_secret=cluster.admin_key,
        janus_admin_urls=",".join(cluster.admin_urls),
        janus_admin_api_secret=cluster.admin_secret,
    )
    return shop


async def test_live_show_over_two_janus_instances(
    make_shop: Any,
    janus_in_browser_net: JanusCluster,
    mdns_browser: Any,
    page_errors: PageErrors,
) -> None:
    """Janus mode in Chromium: go live, shoppers on both instances watch, chat, pins, likes, phone, end."""
    cluster = janus_in_browser_net
    shop = await janus_shop(make_shop, cluster)
    media = shop.server.app.state.media
    offers: list[str] = []

    async with page_opener(mdns_browser, page_errors) as any_page:
        pages: dict[str, Any] = {}
        open_page = seller_may_film(any_page, offers, pages)

        async def on_both_instances(show_id: int) -> None:
            where = await media.where(show_id)
            assert where["origin"] == cluster.urls[0], where
            # one shopper watches the origin, the other the copy its remote publisher feeds
            assert where["viewers"] == {url: 1 for url in cluster.urls}, where
            assert where["remotes"] == [cluster.urls[1]], where
            # the studio's connection health comes from its WHIP connection to the origin
            health = pages["seller"].locator("#health")
            await expect(health).to_have_text("good")
            await expect(health).to_have_class("health-good")

        async def phone_shopper(show_id: int) -> None:
            # a late joiner gets a picture (a keyframe is asked for through the copy's RTCP to the
            # origin and on to the seller's browser), here on a phone
            shopper = await open_page("shopper-phone", **PHONE_CONTEXT)
            await shopper.goto(f"{shop.server.url}/live/{show_id}")
            await video_plays(shopper)
            # placed on the copy: the origin also carries liveshop's own subscriber (stats, recording)
            where = await media.where(show_id)
            assert where["viewers"] == {cluster.urls[0]: 1, cluster.urls[1]: 2}, where
            await expect(shopper.locator(".product-card")).to_have_count(2)
            await shopper.wait_for_function(
                "() => [...document.images].every((i) => i.complete && i.naturalWidth > 0)"
            )
            await shopper.screenshot(path=str(SCREENSHOTS / "watch-phone-janus.png"))
            await phone_layout_holds(shopper, show_id, shop.products[2])

        await run_live_show(
            shop,
            open_page,
            "janus",
            screenshots=("studio-desktop-janus.png", "watch-desktop-janus.png"),
            when_both_play=on_both_instances,
            before_the_end=phone_shopper,
        )
    # the premise of the test: the shoppers' Chromium offered names, never addresses
    candidates = [line for o in offers for line in o.splitlines() if line.startswith("a=cand")]
    assert len(offers) >= 3 and candidates, offers
    assert all(".local " in line for line in candidates), candidates


@pytest.mark.parametrize("codec", ["vp8", "h264"])
async def test_studio_simulcast_reaches_a_small_player_on_a_lower_substream(
    make_shop: Any,
    janus_in_browser_net: JanusCluster,
    mdns_browser: Any,
    page_errors: PageErrors,
    codec: str,
) -> None:
    """LIVESHOP_SIMULCAST in janus mode: the studio's layers (in LIVESHOP_VIDEO_CODEC) go to
    Janus, a player under 360 pixels tall is sent a lower one (its reported size), and the studio
    counts viewers per layer. (A portrait phone's player is taller than 720 here; without REMB in
    this mode only the player size and loss choose.)"""
    shop = await janus_shop(make_shop, janus_in_browser_net, simulcast=True, video_codec=codec)
    async with page_opener(mdns_browser, page_errors) as any_page:
        open_page = seller_may_film(any_page, [], {})
        seller = await open_page("seller")
        await seller_logs_in(seller, shop)
        await seller_goes_live(seller, "Simulcast drop")
        show = (await shop.http.get("/api/livestreams/active", headers=shop.admin)).json()
        show_id = show["livestream"]["id"]
        media = shop.server.app.state.media
        placed = await until(
            lambda: media.placement.get_show(show_id), timeout=20, message="the WHIP publish"
        )
        assert set(placed.layers) == {"f", "h", "q"}, placed
        assert placed.codec.lower() == codec, placed

        small = await open_page("shopper-small", viewport=SMALL_PLAYER)
        await small.goto(f"{shop.server.url}/live/{show_id}")
        await video_plays(small, 30_000)

        async def small_layer() -> str | None:
            r = await shop.http.get(f"/api/livestreams/{show_id}/stats", headers=shop.admin)
            links = r.json()["viewerLinks"]
            return links[0]["layer"] if links and links[0]["layer"] in ("h", "q") else None

        await until(small_layer, timeout=30, message="the small player on a lower substream")
        await expect(seller.locator("#layers")).to_contain_text("1", timeout=15_000)


async def test_an_h264_encoders_show_plays_on_both_instances(
    make_shop: Any,
    janus_in_browser_net: JanusCluster,
    mdns_browser: Any,
    page_errors: PageErrors,
) -> None:
    """An H.264 WHIP encoder's show (as OBS sends) plays in Chromium shoppers on both instances."""
    cluster = janus_in_browser_net
    shop = await janus_shop(make_shop, cluster)
    r = await shop.http.post("/api/livestreams", json={"title": "OBS"}, headers=shop.admin)
    show_id = r.json()["livestream"]["id"]
    encoder = Publisher("H264")
    try:
        r = await shop.http.post(
            f"/api/livestreams/{show_id}/whip",
            content=await offer(encoder.pc),
            headers={**shop.admin, "Content-Type": "application/sdp"},
        )
        assert r.status_code == 201, r.text
        await answer(encoder.pc, r.text)
        async with page_opener(mdns_browser, page_errors) as open_page:
            # Janus sends H.264 on 107, where Chromium's own offer had put an RTX stream
            for name in ("a", "b"):
                shopper = await open_page(f"shopper-{name}")
                await shopper.goto(f"{shop.server.url}/live/{show_id}")
                await video_plays(shopper)
            where = await shop.server.app.state.media.where(show_id)
            assert where["viewers"] == {url: 1 for url in cluster.urls}, where
    finally:
        await encoder.pc.close()


@dataclass
class WhepLog:
    """A page's WHEP POSTs (monotonic times), its sessions (from the answers' ``Location``) and the
    ``webrtc_reconnect`` events its hub socket received (time, session ids listed)."""

    posts: list[float] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    reconnects: list[tuple[float, list[str]]] = field(default_factory=list)

    def heard_own(self) -> float | None:
        """When the page was first told that one of its own sessions must reconnect."""
        mine = set(self.sessions)
        return next((t for t, ids in self.reconnects if mine & set(ids)), None)


def log_whep(page: Any) -> WhepLog:
    """Record ``page``'s WHEP traffic and ``webrtc_reconnect`` events (call before ``goto``)."""
    log = WhepLog()

    def request(r: Any) -> None:
        if r.method == "POST" and r.url.endswith("/whep"):
            log.posts.append(time.monotonic())

    def response(r: Any) -> None:
        if r.request.method == "POST" and r.url.endswith("/whep") and r.status == 201:
            log.sessions.append(r.headers["location"].rsplit("/", 1)[-1])

    def frame(payload: str | bytes) -> None:
        if isinstance(payload, bytes) or "webrtc_reconnect" not in payload:
            return
        message = json.loads(payload)
        for event in message.get("events", [message]):
            if event.get("type") == "webrtc_reconnect":
                log.reconnects.append((time.monotonic(), list(event["sessionIds"])))

    page.on("request", request)
    page.on("response", response)
    page.on("websocket", lambda ws: ws.on("framereceived", frame))
    return log


async def test_a_shopper_whose_instance_dies_offers_again_at_once(
    make_shop: Any,
    janus_in_browser_net: JanusCluster,
    mdns_browser: Any,
    page_errors: PageErrors,
) -> None:
    """The Janus instance of one shopper is killed: on webrtc_reconnect the page offers again at once."""
    cluster = janus_in_browser_net
    shop = await janus_shop(make_shop, cluster)
    media = shop.server.app.state.media
    r = await shop.http.post("/api/livestreams", json={"title": "Failover"}, headers=shop.admin)
    show_id = r.json()["livestream"]["id"]
    encoder = Publisher()
    try:
        r = await shop.http.post(
            f"/api/livestreams/{show_id}/whip",
            content=await offer(encoder.pc),
            headers={**shop.admin, "Content-Type": "application/sdp"},
        )
        assert r.status_code == 201, r.text
        await answer(encoder.pc, r.text)
        async with page_opener(mdns_browser, page_errors) as open_page:
            shoppers: list[tuple[Any, WhepLog]] = []
            for name in ("a", "b"):
                shopper = await open_page(f"shopper-{name}")
                log = log_whep(shopper)
                await shopper.goto(f"{shop.server.url}/live/{show_id}")
                await video_plays(shopper)
                shoppers.append((shopper, log))
            assert (await media.where(show_id))["viewers"] == {url: 1 for url in cluster.urls}
            before = [len(log.posts) for _, log in shoppers]

            killed = time.monotonic()
            cluster.instances[1].stop(kill=True)

            told = await until(
                lambda: [i for i, (_, lg) in enumerate(shoppers) if lg.heard_own() is not None],
                message="a page told that its own session must reconnect",
            )
            assert len(told) == 1, "one shopper was on the killed instance"
            i = told[0]
            page, log = shoppers[i]
            await until(lambda: len(log.posts) > before[i], message="the page's new WHEP offer")
            heard, offered = log.heard_own(), log.posts[-1]
            assert heard is not None and heard <= offered, (heard, offered)
            # ICE alone would wait for `disconnected` (~2.5 s without packets) + the page's 3 s
            # grace (RECOVERY_GRACE_MS) before offering again: this offer answered the event
            assert offered - killed < 3.0, f"new offer {offered - killed:.1f} s after the kill"
            await video_plays(page, wait_ms=5_000)
            await frames_decoded(page, wait_ms=5_000)
            assert (await media.where(show_id))["viewers"] == {cluster.urls[0]: 2}
            other = shoppers[1 - i][1]
            assert len(other.posts) == before[1 - i], "the shopper on the origin did not re-offer"
    finally:
        await encoder.pc.close()


async def test_when_the_origin_dies_the_studio_publishes_again_at_once(
    make_shop: Any,
    janus_in_browser_net: JanusCluster,
    mdns_browser: Any,
    page_errors: PageErrors,
) -> None:
    """The origin Janus is killed: the studio publishes again at once; the shopper plays on, new origin."""
    cluster = janus_in_browser_net
    shop = await janus_shop(make_shop, cluster)
    media = shop.server.app.state.media
    async with page_opener(mdns_browser, page_errors) as any_page:
        open_page = seller_may_film(any_page, [], {})
        seller = await open_page("seller")
        whips: list[tuple[float, str]] = []

        def whip(r: Any) -> None:
            if r.method == "POST" and "/whip" in r.url:
                whips.append((time.monotonic(), r.url))

        seller.on("request", whip)
        await seller_logs_in(seller, shop)
        await seller_goes_live(seller, "Origin")
        show_id = (await shop.http.get("/api/livestreams/active")).json()["livestream"]["id"]
        shopper = await open_page("shopper")
        log = log_whep(shopper)
        await shopper.goto(f"{shop.server.url}/live/{show_id}")
        await video_plays(shopper)
        assert (await media.where(show_id))["origin"] == cluster.urls[0]
        published, offered = len(whips), len(log.posts)

        killed = time.monotonic()
        cluster.instances[0].stop(kill=True)

        await until(lambda: len(whips) > published, message="the studio's new WHIP offer")
        at, url = whips[-1]
        assert url.endswith("?replace=1"), url
        # ICE alone: `disconnected` after ~2.5 s, then the studio's 3 s grace
        assert at - killed < 3.0, f"published again {at - killed:.1f} s after the kill"

        async def new_origin() -> bool:
            return bool((await media.where(show_id))["origin"] == cluster.urls[1])

        await until(new_origin, message="the show on the other instance")
        await video_plays(shopper, wait_ms=10_000)
        await frames_decoded(shopper, wait_ms=5_000)
        # the shopper's page dropped its connection on webrtc_broadcast_stop and offered again on
        # webrtc_broadcast_start (its ICE would still have said "connected" for ~2.5 s)
        assert log.posts[offered:] and log.posts[offered] - killed < 5.0, log.posts[offered:]
