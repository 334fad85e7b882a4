"""Loss repair towards viewers (sfu): a NACKed packet is resent as RTX (RFC 4588) to a viewer
that negotiated it, and as the plain packet to one that did not. Real aiortc peers on loopback;
one video packet is dropped on the forwarding path, once, on purpose."""

from __future__ import annotations

import itertools
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiortc.rtp import RtpPacket

from liveshop.media import aiortc_internals as internals
from liveshop.media.sfu import SfuMediaBackend
from liveshop.media.sink import Sink
from tests.media.peers import Events, Publisher, Viewer
from tests.waiting import until


@pytest.fixture
async def publisher(backend: SfuMediaBackend, events: Events) -> AsyncIterator[Publisher]:
    publisher = Publisher()
    await publisher.start(backend)
    await events.wait("publisher_connected")
    yield publisher
    await publisher.pc.close()


class DropOnce:
    """Stands in for a video sink's sender: drops the first media packet after :meth:`arm`
    (its sequence number is ``dropped``) and passes everything else, retransmissions included."""

    def __init__(self, sink: Sink) -> None:
        self.send: Callable[[bytes], Awaitable[None]] = sink.send
        self.pt = sink.rewriter.pt
        self.armed = False
        self.dropped: int | None = None
        sink.send = self

    def arm(self) -> None:
        self.armed = True

    async def __call__(self, data: bytes) -> None:
        if self.armed and self.dropped is None and data[1] & 0x7F == self.pt:
            self.dropped = struct.unpack_from("!H", data, 2)[0]
            return
        await self.send(data)


async def watch_with_one_loss(
    backend: SfuMediaBackend, viewer: Viewer
) -> tuple[DropOnce, list[RtpPacket], list[int]]:
    """Start ``viewer``, drop one video packet once it decodes; return the drop, every RTP packet
    it received and the indices of 40 consecutive decoded frames around the drop."""
    await viewer.start(backend)
    sink = backend.rooms[1].viewers[viewer.session_id].sinks["video"]
    drop = DropOnce(sink)
    received: list[RtpPacket] = []
    receiver = next(t.receiver for t in viewer.pc.getTransceivers() if t.kind == "video")
    internals.observe_rtp(receiver, received.append)
    await until(lambda: "video" in viewer.tracks, message="the video track")
    indices = await viewer.frame_indices(10)
    drop.arm()
    indices += await viewer.frame_indices(30)
    assert drop.dropped is not None
    return drop, received, indices


async def test_a_viewer_with_rtx_is_repaired_by_an_rtx_packet(
    backend: SfuMediaBackend, publisher: Publisher
) -> None:
    """The dropped packet comes back on the RTX SSRC (own sequence numbers, the original's in the
    first two payload bytes), never on the media SSRC, and no decoded frame is missing."""
    viewer = Viewer()
    try:
        drop, received, indices = await watch_with_one_loss(backend, viewer)
        sink = backend.rooms[1].viewers[viewer.session_id].sinks["video"]
        assert sink.rtx_pt is not None
        assert f"a=ssrc-group:FID {sink.rewriter.ssrc} {sink.rtx_ssrc}" in (
            viewer.pc.remoteDescription.sdp
        )
        rtx = [p for p in received if p.ssrc == sink.rtx_ssrc]
        assert rtx and all(p.payload_type == sink.rtx_pt for p in rtx)
        assert int.from_bytes(rtx[0].payload[:2], "big") == drop.dropped
        media = [p.sequence_number for p in received if p.ssrc == sink.rewriter.ssrc]
        assert drop.dropped not in media
        assert [b - a for a, b in itertools.pairwise(indices)] == [1] * 39
    finally:
        await viewer.pc.close()


async def test_a_viewer_without_rtx_gets_the_packet_again(
    backend: SfuMediaBackend, publisher: Publisher
) -> None:
    """A viewer that offered no RTX is answered without it and gets the dropped packet again on
    the media SSRC; no decoded frame is missing."""
    viewer = Viewer(video_codecs=["VP8"])
    try:
        drop, received, indices = await watch_with_one_loss(backend, viewer)
        sink = backend.rooms[1].viewers[viewer.session_id].sinks["video"]
        assert sink.rtx_pt is None and "ssrc-group:FID" not in viewer.pc.remoteDescription.sdp
        assert {p.ssrc for p in received} == {sink.rewriter.ssrc}
        media = [p.sequence_number for p in received]
        assert media.count(drop.dropped) == 1  # type: ignore[arg-type]
        assert [b - a for a, b in itertools.pairwise(indices)] == [1] * 39
    finally:
        await viewer.pc.close()
