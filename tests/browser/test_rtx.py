"""Chromium's watch page negotiates RTX with the sfu and takes a lost video packet back from it."""

from __future__ import annotations

from typing import Any

import pytest

from liveshop.media.sfu import SfuMediaBackend
from tests.browser.test_pages import video_plays
from tests.browser.test_phone import KEEP_PEER_CONNECTIONS
from tests.media.peers import Publisher
from tests.media.test_rtx import DropOnce
from tests.waiting import until

pytestmark = pytest.mark.browser

# The page's video receiver's inbound-rtp stats (retransmittedPacketsReceived appears once > 0).
INBOUND_VIDEO = """async () => {
  const pc = (window.__pcs || []).find((p) => p.connectionState === 'connected');
  if (!pc) return null;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      return s;
    }
  }
  return null;
}"""


async def test_chromium_takes_a_lost_packet_back_as_rtx(make_shop: Any, open_page: Any) -> None:
    """The answer to Chromium's offer has an RTX stream; a packet dropped on the way is
    NACKed, resent as RTX and counted by Chromium as a retransmitted packet received; Chromium
    needed no keyframe to go on."""
    shop = await make_shop("sfu")
    r = await shop.http.post("/api/livestreams", json={"title": "RTX"}, headers=shop.admin)
    show_id = r.json()["livestream"]["id"]
    backend: SfuMediaBackend = shop.server.app.state.media
    publisher = Publisher()
    try:
        await publisher.start(backend, show_id)
        shopper = await open_page("shopper")
        await shopper.add_init_script(KEEP_PEER_CONNECTIONS)
        await shopper.goto(f"{shop.server.url}/live/{show_id}")
        await video_plays(shopper, 20_000)
        sink = next(iter(backend.rooms[show_id].viewers.values())).sinks["video"]
        assert sink.rtx_pt is not None, "Chromium's offer lists RTX"
        before = await shopper.evaluate(INBOUND_VIDEO)
        assert before is not None and before["rtxSsrc"] == sink.rtx_ssrc
        assert before.get("retransmittedPacketsReceived", 0) == 0
        drop = DropOnce(sink)
        drop.arm()
        await until(lambda: drop.dropped is not None, message="a packet dropped")

        async def retransmitted() -> bool:
            stats = await shopper.evaluate(INBOUND_VIDEO)
            return bool(stats.get("retransmittedPacketsReceived", 0) >= 1)

        await until(retransmitted, message="Chromium counting the RTX packet")
        await video_plays(shopper)
        after = await shopper.evaluate(INBOUND_VIDEO)
        assert after["nackCount"] >= 1
        assert after["pliCount"] == before["pliCount"], "repaired: no keyframe was needed"
    finally:
        await publisher.pc.close()
