"""Simulcast layer control in ``janus`` mode without Janus: how substreams are numbered, what
``handle_info`` is read as, and the loop driving ``configure`` (fake Admin API and session)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from liveshop.domain.layers import LayerPolicy, LayerSelector
from liveshop.media.base import Playback
from liveshop.media.janus.admin import JanusAdmin
from liveshop.media.janus.client import JanusSession
from liveshop.media.janus.instances import Instance
from liveshop.media.janus.layers import LayerControl, ViewerLink
from liveshop.media.janus.placement.base import SessionRecord, ShowRecord
from liveshop.media.janus.placement.memory import MemoryPlacement
from liveshop.media.janus.simulcast import (
    interval_loss,
    layer_heights,
    link_sample,
    publisher_rates,
    substream_rids,
)
from liveshop.media.janus.videoroom import configure_video
from liveshop.media.synthetic_simulcast import simulcast_offer

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=mid:0",
        "a=sendonly",
        "a=rtpmap:96 VP8/90000",
        "",
    ]
)


def publisher_info(rates_bytes: tuple[int, int, int]) -> dict[str, Any]:
    q, h, f = rates_bytes
    incoming = {
        "bytes_lastsec": q,
        "video-simulcast-1": {"bytes_lastsec": h},
        "video-simulcast-2": {"bytes_lastsec": f},
    }
    return {"webrtc": {"media": {"0": {"type": "video", "stats": {"in": incoming}}}}}


def viewer_info(sent: int, lost: int, bytes_lastsec: int, substream: int) -> dict[str, Any]:
    main = {"rtt": 20, "lost-by-remote": lost, "out-link-quality": 100}
    out = {"packets": sent, "bytes_lastsec": bytes_lastsec}
    video = {"type": "video", "rtcp": {"main": main}, "stats": {"out": out}}
    stream = {"type": "video", "mid": "0", "simulcast": {"substream": substream}}
    return {"webrtc": {"media": {"0": video}}, "plugin_specific": {"streams": [stream]}}


def test_substreams_are_numbered_like_janus() -> None:
    """f;h;q (highest first) is Janus's default order; q;h;f is sent as rid_order lmh."""
    assert substream_rids(simulcast_offer(OFFER, ["f", "h", "q"])) == (["q", "h", "f"], "hml")
    assert substream_rids(simulcast_offer(OFFER, ["q", "h", "f"])) == (["q", "h", "f"], "lmh")
    assert substream_rids(simulcast_offer(OFFER, ["hi", "lo"])) == (["lo", "hi"], "hml")
    assert substream_rids(OFFER) == ([], "hml")


def test_handle_info_gives_rates_heights_and_interval_loss() -> None:
    """Per-substream rates from the publisher, loss between two viewer samples."""
    assert publisher_rates(publisher_info((10, 30, 100)), 3) == [80.0, 240.0, 800.0]
    assert layer_heights(360, 3) == [90, 180, 360]
    before = link_sample(viewer_info(1000, 5, 100_000, 2), "0")
    after = link_sample(viewer_info(1200, 65, 100_000, 1), "0")
    assert after.substream == 1 and after.rtt_ms == 20.0
    assert interval_loss(before, after, "video") == 0.3
    assert interval_loss(None, after, "video") is None


def test_configure_bodies_switch_pause_and_resume() -> None:
    """A switch names the substream (every temporal layer); a pause stops only the video."""
    assert configure_video("0", 1) == {
        "request": "configure",
        "streams": [{"mid": "0", "substream": 1, "temporal": 2}],
    }
    assert configure_video("0", None)["streams"] == [{"mid": "0", "send": False}]
    resumed = configure_video("0", 0, resume=True)["streams"]
    assert resumed == [{"mid": "0", "substream": 0, "temporal": 2, "send": True}]


class FakeAdmin(JanusAdmin):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/admin")
        self.infos: dict[int, dict[str, Any]] = {}

    async def handle_info(self, session_id: int, handle_id: int) -> dict[str, Any]:
        return self.infos[handle_id]


class FakeSession(JanusSession):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/janus", on_event=lambda *a: None, on_lost=_nothing)
        self.session_id = 7
        self.sent: list[dict[str, Any]] = []

    async def message(
        self, handle_id: int, body: dict[str, Any], jsep: Any = None, timeout: float = 1
    ) -> tuple[dict[str, Any], None]:
        self.sent.append(body)
        return {"configured": "ok"}, None


async def _nothing() -> None:
    return None


URL = "http://127.0.0.1:9/janus"


def _untold(show: int, viewer: str, paused: bool) -> None:
    return None


async def layer_control(
    selector: LayerSelector | None = None, on_video: Callable[[int, str, bool], None] = _untold
) -> tuple[FakeAdmin, FakeSession, LayerControl, ViewerLink]:
    """A layer control over one fake Janus (publisher at 80k, 240k, 880k b/s) with one viewer
    ``v`` on substream 2 (Janus's default), polled once."""
    admin, session = FakeAdmin(), FakeSession()
    admin.infos[1] = publisher_info((10_000, 30_000, 110_000))
    placement = MemoryPlacement()
    record = ShowRecord(session_id="p", owner=placement.process_id, origin=URL, feed=1)
    await placement.set_show(1, record)
    await placement.add_session("p", SessionRecord(1, "publisher", URL, 7, 1, placement.process_id))
    control = LayerControl(
        admins={URL: admin}, placement=placement, top_height=lambda _: 360, on_video=on_video
    )
    inst = Instance(index=0, url=URL, session=session, up=True)
    link = ViewerLink("v", 1, inst, 2, "0", ["q", "h", "f"], selector=selector or LayerSelector())
    control.links["v"] = link
    admin.infos[2] = viewer_info(1000, 0, 110_000, 2)
    await control.poll()
    return admin, session, control, link


async def close(admin: FakeAdmin, session: FakeSession, control: LayerControl) -> None:
    await control.close()
    await admin.close()
    await session.close()


async def test_a_new_viewer_is_configured_to_the_start_layer() -> None:
    """Janus starts a subscriber on the top substream; liveshop moves it to the start layer."""
    admin, session, control, _ = await layer_control()
    assert session.sent == [
        {"request": "configure", "streams": [{"mid": "0", "substream": 1, "temporal": 2}]}
    ]
    await close(admin, session, control)


async def test_reported_loss_moves_the_viewer_down_with_configure() -> None:
    """30 % loss on the top layer moves the viewer to the layer that fits, with configure."""
    top = LayerSelector(policy=LayerPolicy(start_bps=math.inf))  # starts on the top layer
    admin, session, control, link = await layer_control(top)
    assert session.sent == [] and link.layer == "f"
    admin.infos[2] = viewer_info(1200, 60, 110_000, 2)
    await control.poll()
    assert session.sent == [
        {"request": "configure", "streams": [{"mid": "0", "substream": 1, "temporal": 2}]}
    ]
    assert link.target == 1 and link.switches == 1
    await close(admin, session, control)


async def test_a_link_below_the_lowest_layer_pauses_the_video_and_says_so() -> None:
    """Below the lowest layer's need the video is paused with configure and on_video is told."""
    told: list[tuple[int, str, bool]] = []
    admin, session, control, link = await layer_control(
        on_video=lambda show, viewer, paused: told.append((show, viewer, paused))
    )
    link.selector.cap_bps = 10_000  # what the link was found to carry
    await control.poll()
    assert session.sent[-1] == {"request": "configure", "streams": [{"mid": "0", "send": False}]}
    assert link.paused and told == [(1, "v", True)]
    assert control.describe(1)[0]["paused"]
    await close(admin, session, control)


def test_a_viewers_reported_playback_shows_in_its_link() -> None:
    """What a simulcast viewer's browser reports shows in its ``viewerLinks`` entry; an unknown
    viewer is refused."""
    control = LayerControl(admins={}, placement=MemoryPlacement(), top_height=lambda _: 360)
    inst = Instance(index=0, url="http://127.0.0.1:9/janus", session=None, up=True)
    control.links["v"] = ViewerLink("v", 1, inst, 2, "0", ["q", "h", "f"])
    assert control.links["v"].describe()["freezes"] is None
    assert control.set_playback("v", Playback(3, 1.25, 900))
    shown = control.links["v"].describe()
    assert (shown["freezes"], shown["freezeSeconds"], shown["framesDecoded"]) == (3, 1.25, 900)
    assert not control.set_playback("nobody", Playback(0, 0.0, 0))
