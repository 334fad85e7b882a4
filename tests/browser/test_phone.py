"""Selling from a phone (issue 20): the full-screen portrait studio and the portrait-first watch page.

Chromium emulates a 390×844 phone (touch, device scale factor 3) with two fake cameras, so the
seller can switch between them. The show goes through the sfu (the server forwards and records
whatever aspect it receives). Screenshots of both phone pages land in docs/screenshots/.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from playwright.async_api import expect

from liveshop.media.netns import Namespace
from tests.browser.conftest import (
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    PageErrors,
    Shop,
    chromium_in,
)
from tests.browser.test_pages import IMAGES_LOADED, seller_logs_in, video_plays

pytestmark = pytest.mark.browser

PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
# two fake cameras: the phone's front and back camera
TWO_CAMERAS = [
    arg for arg in CHROMIUM_ARGS if not arg.startswith("--use-fake-device-for-media-stream")
] + ["--use-fake-device-for-media-stream=device-count=2"]

# Every RTCPeerConnection of the page, so a test can look at what it sends.
KEEP_PEER_CONNECTIONS = """(() => {
  const Real = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Real(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Real.prototype;
})()"""

# The camera the studio publishes: the video sender's track (id, device, size).
PUBLISHED_VIDEO = """() => {
  const pc = window.__pcs.find((p) => p.connectionState === 'connected');
  const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'video');
  if (!sender) return null;
  const s = sender.track.getSettings();
  return {id: sender.track.id, deviceId: s.deviceId, width: s.width, height: s.height,
          state: sender.track.readyState, connections: window.__pcs.length};
}"""

# How much of the viewport an element covers (0..1), and whether the page scrolled.
COVERAGE = """(selector) => {
  const r = document.querySelector(selector).getBoundingClientRect();
  const w = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));
  const h = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
  return {share: (w * h) / (innerWidth * innerHeight), scrollY: scrollY,
          scrollHeight: document.documentElement.scrollHeight, height: innerHeight};
}"""

# The watch page's <video>: its picture and its box.
WATCH_VIDEO = """() => {
  const v = document.querySelector('#video');
  const r = v.getBoundingClientRect();
  const side = document.querySelector('#side').getBoundingClientRect();
  return {videoWidth: v.videoWidth, videoHeight: v.videoHeight, left: r.left, right: r.right,
          top: r.top, bottom: r.bottom, width: r.width, height: r.height, sideLeft: side.left,
          muted: v.muted, aspect: document.querySelector('#app').dataset.aspect};
}"""

DECODED_FRAMES = "() => document.querySelector('#video').getVideoPlaybackQuality().totalVideoFrames"


@pytest.fixture(scope="session")
async def phone_browser(
    browser_net: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """Chromium with two fake cameras (the session's `browser` has one), in the same namespace."""
    async with chromium_in(browser_net, tmp_path_factory, TWO_CAMERAS) as b:
        yield b


@pytest.fixture
async def open_tab(
    phone_browser: Any, page_errors: PageErrors
) -> AsyncIterator[Callable[..., Any]]:
    """``await open_tab(name, phone=True)``: a page in its own context (a phone unless
    ``phone=False``), watched for errors, with its peer connections kept in ``window.__pcs``."""
    contexts: list[Any] = []

    async def make(name: str, phone: bool = True) -> Any:
        options: dict[str, Any] = PHONE_CONTEXT if phone else {"viewport": DESKTOP}
        context = await phone_browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = await context.new_page()
        await page.add_init_script(KEEP_PEER_CONNECTIONS)
        page_errors.watch(page, name)
        context.on("page", lambda p: page_errors.watch(p, f"{name} (popup)"))
        return page

    yield make
    for context in contexts:
        await context.close()


async def phone_seller_goes_live(page: Any, shop: Shop, title: str) -> int:
    """Log in on the phone, type the title, one tap on Go live; the show's id."""
    await seller_logs_in(page, shop)
    await page.wait_for_function("() => document.querySelector('#preview').videoWidth > 0")
    await page.get_by_label("Title").fill(title)
    await page.get_by_role("button", name="Go live").click()
    await expect(page.locator("#live-indicator")).to_have_text("LIVE")
    await expect(page.get_by_role("status").filter(has_text="Your video is live")).to_be_attached()
    r = await shop.http.get("/api/livestreams/active")
    return int(r.json()["livestream"]["id"])


async def pin_by_api(shop: Shop, show_id: int, product: dict[str, Any]) -> None:
    r = await shop.http.post(
        f"/api/livestreams/{show_id}/pin-product",
        json={"productId": product["id"]},
        headers=shop.admin,
    )
    assert r.status_code == 200, r.text


async def shopper_says(page: Any, name: str, *lines: str) -> None:
    """Pick a display name, then send each line (once the previous one is confirmed)."""
    await page.get_by_label("Pick a display name to chat").fill(name)
    await page.get_by_role("button", name="Join chat").click()
    for text in lines:
        await page.get_by_label("Message", exact=True).fill(text)
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator(".chat-msg:not(.pending)", has_text=text)).to_have_count(1)


async def test_phone_seller_goes_live_in_portrait(make_shop: Any, open_tab: Any) -> None:
    """On a phone the seller goes live in portrait with one tap and the preview fills the screen."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    show_id = await phone_seller_goes_live(seller, shop, "Phone drop")

    published = await seller.evaluate(PUBLISHED_VIDEO)
    assert published["height"] > published["width"], published
    show = (await shop.http.get(f"/api/livestreams/{show_id}")).json()["livestream"]
    assert show["quality"] == "720p"
    coverage = await seller.evaluate(COVERAGE, "#preview")
    assert coverage["share"] > 0.95, coverage
    assert coverage["scrollHeight"] <= coverage["height"], coverage
    # the overlays: live badge, elapsed time, viewers, likes and the controls, all on screen
    for selector in ("#live-panel .badge", "#elapsed", "#viewers", "#likes"):
        await expect(seller.locator(selector)).to_be_in_viewport()
    for name in ("Switch camera", "Mute microphone", "Products", "Chat", "End show"):
        await expect(seller.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
    # the screen stays on while live
    await expect(seller.locator("#studio-view")).to_have_attribute("data-wake-lock", "held")


async def test_phone_seller_picks_a_landscape_preset(make_shop: Any, open_tab: Any) -> None:
    """Before going live, the settings sheet switches the capture between portrait and landscape."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    await seller_logs_in(seller, shop)
    size = "() => { const v = document.querySelector('#preview'); return [v.videoWidth, v.videoHeight]; }"
    await seller.wait_for_function(f"() => ({size})()[1] > ({size})()[0]")
    await seller.get_by_role("button", name="Camera settings").click()
    sheet = seller.get_by_role("region", name="Camera settings")
    await expect(sheet.get_by_label("Quality")).to_have_value("720p-portrait")
    await sheet.get_by_label("Quality").select_option(label="Landscape 1280×720")
    await seller.wait_for_function(f"() => ({size})()[0] > ({size})()[1]")
    await sheet.get_by_role("button", name="Close camera settings").click()
    await expect(sheet).to_be_hidden()
    await seller.get_by_label("Title").fill("Sideways")
    await seller.get_by_role("button", name="Go live").click()
    await expect(seller.locator("#live-indicator")).to_have_text("LIVE")
    show = (await shop.http.get("/api/livestreams/active")).json()["livestream"]
    assert show["quality"] == "720p"


async def test_switching_camera_keeps_the_show(make_shop: Any, open_tab: Any) -> None:
    """Switching camera replaces the published track; the session and the viewers' video go on."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    whip: list[str] = []
    seller.on(
        "request",
        lambda req: whip.append(f"{req.method} {req.url}") if "/whip" in req.url else None,
    )
    show_id = await phone_seller_goes_live(seller, shop, "Two cameras")
    viewer = await open_tab("viewer", phone=False)
    await viewer.goto(f"{shop.server.url}/live/{show_id}")
    await video_plays(viewer)
    room = shop.server.app.state.media.rooms[show_id]
    session = room.publisher.session_id
    first = await seller.evaluate(PUBLISHED_VIDEO)
    switch = seller.get_by_role("button", name="Switch camera")

    async def switch_to_other_camera(previous: dict[str, Any]) -> dict[str, Any]:
        await switch.click()
        await seller.wait_for_function(
            f"() => {{ const p = ({PUBLISHED_VIDEO})();"
            f" return p && p.deviceId !== {previous['deviceId']!r} && p.state === 'live'; }}"
        )
        await expect(switch).to_be_enabled()
        published: dict[str, Any] = await seller.evaluate(PUBLISHED_VIDEO)
        assert published["id"] != previous["id"], (previous, published)
        assert published["connections"] == 1, published  # the same peer connection
        return published

    # Chromium's second fake camera is a 16-bit depth camera whose frames its encoder cannot
    # send: the viewer's video keeps playing (with the sound) on the same session meanwhile
    second = await switch_to_other_camera(first)
    await expect(seller.get_by_role("status").filter(has_text="Camera:")).to_be_visible()
    await video_plays(viewer)
    # and back to the first camera: new frames reach the viewer, with no new WHIP session
    frames = await viewer.evaluate(DECODED_FRAMES)
    third = await switch_to_other_camera(second)
    assert third["deviceId"] == first["deviceId"] and third["height"] > third["width"], third
    await viewer.wait_for_function(f"() => ({DECODED_FRAMES})() > {frames + 20}", timeout=20_000)
    await video_plays(viewer)
    assert [r.split()[0] for r in whip] == ["POST"], whip
    assert shop.server.app.state.media.rooms[show_id].publisher.session_id == session
    assert shop.server.app.state.media.is_live(show_id)
    await expect(seller.locator("#live-indicator")).to_have_text("LIVE")


async def test_phone_seller_pins_and_reads_chat(make_shop: Any, open_tab: Any) -> None:
    """On the phone the latest chat line shows over the video and a product pins with one tap."""
    shop = await make_shop("sfu")
    mug, _beanie, tote = shop.products
    seller = await open_tab("seller-phone")
    show_id = await phone_seller_goes_live(seller, shop, "Spring drop")
    shopper = await open_tab("shopper", phone=False)
    await shopper.goto(f"{shop.server.url}/live/{show_id}")
    await shopper_says(
        shopper, "Mia", "Hi from Lisbon!", "Does the mug come in blue?", "Is the tote waterproof?"
    )
    await pin_by_api(shop, show_id, mug)

    line = seller.locator(".chat-msg", has_text="Is the tote waterproof?")
    await expect(line).to_be_in_viewport()
    assert await seller.evaluate("() => scrollY") == 0

    await seller.get_by_role("button", name="Products", exact=False).click()
    sheet = seller.get_by_role("region", name="Products")
    await sheet.get_by_role("button", name="Pin Canvas tote bag").click()
    await expect(shopper.locator(f".product-card[data-product-id='{tote['id']}']")).to_be_visible()
    await expect(sheet.get_by_role("button", name="Unpin Canvas tote bag").first).to_be_visible()
    await sheet.get_by_role("button", name="Close products").click()
    await expect(sheet).to_be_hidden()
    await expect(seller.get_by_role("button", name="Products, 2 pinned")).to_be_focused()
    await expect(line).to_be_in_viewport()
    await expect(seller.get_by_role("button", name="Pinned: Canvas tote bag")).to_be_in_viewport()

    await seller.evaluate("() => document.activeElement.blur()")
    await seller.wait_for_function(IMAGES_LOADED)
    await seller.screenshot(path=str(SCREENSHOTS / "studio-phone.png"))


async def test_phone_seller_moderates_from_the_chat_sheet(make_shop: Any, open_tab: Any) -> None:
    """A tap on the chat lines opens the whole chat, where the seller deletes and bans."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    show_id = await phone_seller_goes_live(seller, shop, "Moderation")
    shopper = await open_tab("shopper", phone=False)
    await shopper.goto(f"{shop.server.url}/live/{show_id}")
    await shopper_says(shopper, "Rex", "first!!!")
    await shopper.get_by_label("Message", exact=True).fill("buy followers at spam.example")
    await shopper.get_by_role("button", name="Send").click()

    await seller.locator(".chat-msg", has_text="spam.example").click()
    chat = seller.get_by_role("region", name="Chat")
    await expect(chat.get_by_role("button", name="Close chat")).to_be_visible()
    await chat.get_by_role("button", name="Delete message from Rex").last.click()
    await expect(shopper.locator(".chat-msg", has_text="spam.example")).to_have_count(0)
    await chat.get_by_role("button", name="Ban Rex").click()
    await seller.get_by_role("dialog").get_by_role("button", name="Ban").click()
    await expect(shopper.locator("#conn-banner")).to_have_text("You were removed from this show.")
    await seller.keyboard.press("Escape")
    await expect(chat.get_by_role("button", name="Close chat")).to_be_hidden()
    await expect(seller.get_by_role("button", name="Chat", exact=True)).to_be_focused()


async def test_phone_seller_mutes(make_shop: Any, open_tab: Any) -> None:
    """Mute turns the published microphone off and on again without ending the show."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    await phone_seller_goes_live(seller, shop, "Quiet please")
    mute = seller.get_by_role("button", name="Mute microphone")
    audio_on = """() => window.__pcs.find((p) => p.connectionState === 'connected').getSenders()
      .find((s) => s.track && s.track.kind === 'audio').track.enabled"""
    assert await seller.evaluate(audio_on) is True
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    assert await seller.evaluate(audio_on) is False
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "false")
    assert await seller.evaluate(audio_on) is True


async def test_phone_shopper_sees_upright_video(make_shop: Any, open_tab: Any) -> None:
    """A phone shopper sees the upright video fill the screen, with the pinned card and Buy over it."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    show_id = await phone_seller_goes_live(seller, shop, "Linen & wool — spring drop")
    await pin_by_api(shop, show_id, shop.products[0])
    shopper = await open_tab("shopper-phone")
    await shopper.goto(f"{shop.server.url}/live/{show_id}")
    await video_plays(shopper)
    await shopper_says(shopper, "Mia", "Love the colour!")
    await pin_by_api(shop, show_id, shop.products[2])

    box = await shopper.evaluate(WATCH_VIDEO)
    assert box["videoHeight"] > box["videoWidth"] and box["aspect"] == "portrait", box
    coverage = await shopper.evaluate(COVERAGE, "#video")
    assert coverage["share"] > 0.95, coverage
    card = shopper.locator(".product-card", has_text="Canvas tote bag")
    await expect(card).to_be_in_viewport()
    await expect(card.get_by_role("link", name="Buy Canvas tote bag")).to_be_in_viewport()
    await expect(shopper.get_by_role("button", name="Like")).to_be_in_viewport()
    await expect(shopper.get_by_role("button", name="Tap to unmute")).to_be_visible()
    await shopper.wait_for_function(IMAGES_LOADED)
    await shopper.screenshot(path=str(SCREENSHOTS / "watch-phone.png"))

    # a tap on the picture turns the sound on
    await shopper.locator("#video").tap(position={"x": 100, "y": 300})
    await expect(shopper.get_by_role("button", name="Tap to unmute")).to_be_hidden()
    assert (await shopper.evaluate(WATCH_VIDEO))["muted"] is False


async def test_desktop_shopper_sees_upright_video_beside_panel(
    make_shop: Any, open_tab: Any
) -> None:
    """On a desktop the upright show stands upright beside the products and chat."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    show_id = await phone_seller_goes_live(seller, shop, "Upright on a desktop")
    await pin_by_api(shop, show_id, shop.products[0])
    shopper = await open_tab("shopper-desktop", phone=False)
    await shopper.goto(f"{shop.server.url}/live/{show_id}")
    await video_plays(shopper)
    await shopper.wait_for_function("() => document.querySelector('#app').dataset.aspect")

    box = await shopper.evaluate(WATCH_VIDEO)
    assert box["videoHeight"] > box["videoWidth"], box
    assert box["height"] > box["width"] * 1.5, box  # an upright box, no landscape bands
    assert box["right"] <= box["sideLeft"], box  # beside the panel
    assert box["height"] >= DESKTOP["height"] * 0.9, box
    await expect(shopper.get_by_role("link", name="Buy Ceramic pour-over set")).to_be_in_viewport()
    await shopper.wait_for_function(IMAGES_LOADED)
    await shopper.screenshot(path=str(SCREENSHOTS / "watch-desktop-upright.png"))


async def test_recording_and_thumbnail_are_upright(make_shop: Any, open_tab: Any) -> None:
    """The server's recording of a portrait show, its thumbnail and the replay page are upright."""
    shop = await make_shop("sfu")
    seller = await open_tab("seller-phone")
    show_id = await phone_seller_goes_live(seller, shop, "Kept upright")
    # a few seconds of video: the recorder makes its thumbnail 3 s in
    await seller.wait_for_function(
        "() => document.querySelector('#elapsed').textContent >= '00:05'", timeout=20_000
    )
    await seller.get_by_role("button", name="End show").click()
    await seller.get_by_role("dialog").get_by_role("button", name="End show").click()
    await expect(seller.get_by_role("heading", name="Show ended")).to_be_visible()
    await expect(seller.locator("#studio-view")).to_have_attribute("data-wake-lock", "off")
    show = await seller.wait_for_function(
        f"""async () => {{
          const r = await fetch('/api/livestreams/{show_id}');
          const s = (await r.json()).livestream;
          return s.videoUrl && s.thumbnailUrl ? s : null;
        }}""",
        timeout=30_000,
        polling=250,
    )
    show = await show.json_value()

    video = await shop.http.get(show["videoUrl"])
    assert video.status_code == 200
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recording.webm"
        path.write_bytes(video.content)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(stream))
            assert frame.height > frame.width, (frame.width, frame.height)
            assert stream.codec_context.height > stream.codec_context.width
    thumbnail = await shop.http.get(show["thumbnailUrl"])
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert image.height > image.width, image.size

    replay = await open_tab("replay-phone")
    await replay.goto(f"{shop.server.url}/replays/{show_id}")
    await replay.wait_for_function(
        "() => document.querySelector('#app').dataset.aspect === 'portrait'"
    )
    box = await replay.evaluate(
        "() => { const r = document.querySelector('#replay-video').getBoundingClientRect();"
        " return {width: r.width, height: r.height}; }"
    )
    assert box["height"] > box["width"], box
