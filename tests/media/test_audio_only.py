"""The server tells a viewer when the layer rule pauses its video (audio only) and when it resumes
(sfu, simulcast publisher, real aiortc viewer on loopback)."""

from __future__ import annotations

from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

from liveshop.media.sfu import SfuMediaBackend
from liveshop.media.sink import Sink
from liveshop.media.source import Layer
from liveshop.media.synthetic_simulcast import SimulcastPublisher
from tests.media.peers import Events
from tests.media.test_simulcast import simulcast as simulcast
from tests.media.test_simulcast import video_sink, watching
from tests.waiting import until


def simulcast_layers(backend: SfuMediaBackend, show: int = 1) -> list[Layer]:
    """The publisher's video layers (their rates are measured once a second)."""
    publisher = backend.rooms[show].publisher
    assert publisher is not None
    return list(publisher.sources["video"].layers.values())


async def estimate_collapses(sink: Sink) -> None:
    """The viewer's receiver estimates (REMB) fall to 10 kb/s, far under the lowest layer, as a
    receiver behind a link that collapsed reports them (fed where the viewer's RTCP arrives)."""
    for bps in (60_000, 20_000, 10_000):
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP,
            ssrc=0x5EED,
            media_ssrc=0,
            fci=pack_remb_fci(bps, [sink.rewriter.ssrc]),
        )
        assert await sink.on_rtcp(remb)


async def test_the_server_says_when_a_viewers_video_pauses_and_resumes(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher, events: Events
) -> None:
    """A collapsed estimate pauses the viewer's video and emits ``viewer_video`` paused for its
    session; the clean reports that follow resume it and emit ``playing``."""
    watch = await watching(backend)
    session = watch.viewer.session_id
    sink = video_sink(backend, session)
    try:
        await until(lambda: len(watch.widths) >= 3, timeout=20, message="frames")
        layers = simulcast_layers(backend)
        await until(lambda: all(x.rate() > 0 for x in layers), message="the layers' rates")
        assert not [e for e in events.items if e.kind == "viewer_video"]
        await estimate_collapses(sink)
        paused = await events.wait("viewer_video")
        assert paused.data == {"session_id": session, "state": "paused", "reason": "bandwidth"}
        assert sink.layer is None and backend.stats(1)["viewerLinks"][0]["paused"]
        frames = len(watch.widths)
        playing = await events.wait("viewer_video", count=2, limit=15)
        assert playing.data == {"session_id": session, "state": "playing", "reason": "bandwidth"}
        await until(lambda: len(watch.widths) > frames + 3, message="frames again")
    finally:
        await watch.close()
