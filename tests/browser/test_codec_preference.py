"""The studio's codec preference (LIVESHOP_VIDEO_CODEC) as the browser module computes it, run in
Chromium against this Chromium's own capabilities and against a browser without H.264."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

ORDER = """async (videoCodec) => {
  const { preferredCodecs } = await import('/static/js/media/sfu-publish.js');
  const own = RTCRtpSender.getCapabilities('video').codecs;
  const withoutH264 = own.filter((c) => c.mimeType.toLowerCase() !== 'video/h264');
  const names = (list) => list && list.map((c) => `${c.mimeType} ${c.sdpFmtpLine || ''}`);
  return {
    own: names(preferredCodecs(own, videoCodec)),
    ownCount: own.length,
    withoutH264: names(preferredCodecs(withoutH264, videoCodec)),
  };
}"""


async def test_h264_comes_first_constrained_baseline_with_packetization_mode_1(
    make_shop: Any, open_page: Any
) -> None:
    """With h264 the first codec is H.264 Constrained Baseline, mode 1; nothing is dropped."""
    shop = await make_shop("sfu")
    page = await open_page("studio")
    await page.goto(shop.server.url + "/")
    order = await page.evaluate(ORDER, "h264")
    first = order["own"][0]
    assert first.startswith("video/H264") and "packetization-mode=1" in first, order["own"]
    assert "profile-level-id=42e0" in first, order["own"]
    assert len(order["own"]) == order["ownCount"]


async def test_vp8_or_a_browser_without_h264_keeps_the_browsers_order(
    make_shop: Any, open_page: Any
) -> None:
    """With vp8, or h264 where the browser has no H.264 encoder, the browser's order stands."""
    shop = await make_shop("sfu")
    page = await open_page("studio")
    await page.goto(shop.server.url + "/")
    assert (await page.evaluate(ORDER, "vp8"))["own"] is None
    assert (await page.evaluate(ORDER, "h264"))["withoutH264"] is None
