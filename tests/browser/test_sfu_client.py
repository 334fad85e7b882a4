"""The sfu publish/watch modules against a stand-in for the WHIP/WHEP contract.

Until the service's own WHIP/WHEP endpoints are merged (then ``test_live_show[sfu]`` runs), the
browser's requests to them are answered here by aiortc through Playwright's request routing:
WHIP → 201 + SDP answer + Location; WHEP → 409 ``not live`` until the seller's media arrives, then
201 + answer relaying the seller's tracks; DELETE on a Location → 204.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from playwright.async_api import expect

from tests.browser.test_pages import seller_goes_live, seller_logs_in, video_plays

pytestmark = pytest.mark.browser


class StandInSfu:
    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.tracks: dict[str, Any] = {}
        self.pcs: list[Any] = []
        self.requests: list[str] = []

    async def whip(self, route: Any) -> None:
        self.requests.append("whip")
        assert route.request.headers["content-type"] == "application/sdp"
        assert route.request.headers["authorization"].startswith("Bearer ")
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        pc.on("track", lambda track: self.tracks.__setitem__(track.kind, track))
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=route.request.post_data, type="offer")
        )
        await pc.setLocalDescription(await pc.createAnswer())
        await self._created(route, pc, "/api/sfu-stand-in/whip/1")

    async def whep(self, route: Any) -> None:
        if "video" not in self.tracks:
            self.requests.append("whep 409")
            await route.fulfill(
                status=409,
                body=json.dumps({"detail": "not live"}),
                headers={"Content-Type": "application/json"},
            )
            return
        self.requests.append("whep")
        pc = RTCPeerConnection()
        self.pcs.append(pc)
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=route.request.post_data, type="offer")
        )
        for transceiver in pc.getTransceivers():
            if transceiver.kind in self.tracks:
                transceiver.sender.replaceTrack(self.relay.subscribe(self.tracks[transceiver.kind]))
                transceiver.direction = "sendonly"
        await pc.setLocalDescription(await pc.createAnswer())
        await self._created(route, pc, "/api/sfu-stand-in/whep/1")

    async def delete(self, route: Any) -> None:
        self.requests.append(f"{route.request.method} {route.request.url.split('/api/')[1]}")
        await route.fulfill(status=204)

    @staticmethod
    async def _created(route: Any, pc: Any, location: str) -> None:
        await route.fulfill(
            status=201,
            body=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Location": location},
        )

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


async def test_sfu_modules_with_stand_in(make_shop: Any, open_page: Any) -> None:
    """The browser's WHIP/WHEP modules against an aiortc stand-in: offer after gathering, 409 retry, DELETE at the end."""
    shop = await make_shop("sfu")
    sfu = StandInSfu()
    try:
        shopper = await open_page("shopper")
        await shopper.route("**/api/livestreams/*/whep", sfu.whep)
        await shopper.route("**/api/sfu-stand-in/**", sfu.delete)
        seller = await open_page("seller")
        await seller.route("**/api/livestreams/*/whip", sfu.whip)
        await seller.route("**/api/sfu-stand-in/**", sfu.delete)

        # the shopper waits on the offline page: WHEP may answer 409 until the seller's media is up
        await shopper.goto(shop.server.url + "/")
        await seller_logs_in(seller, shop)
        await seller_goes_live(seller, "sfu stand-in")
        await expect(seller.locator("#publish-status")).to_have_text("Your video is live.")
        await video_plays(shopper, 30_000)
        await expect(seller.locator("#health")).to_have_text("good")

        # ending the show DELETEs both resources
        await seller.get_by_role("button", name="End show").click()
        async with (
            seller.expect_request(lambda r: r.method == "DELETE" and "/whip/1" in r.url),
            shopper.expect_request(lambda r: r.method == "DELETE" and "/whep/1" in r.url),
        ):
            await seller.get_by_role("dialog").get_by_role("button", name="End show").click()
        await expect(shopper.get_by_role("heading", name="This show has ended")).to_be_visible()
        assert sfu.requests.count("whip") == 1, sfu.requests
    finally:
        await sfu.close()
