"""Simulcast in sfu mode, with real aiortc peers on loopback: the publisher is the tests'
three-layer peer (src/liveshop/media/synthetic_simulcast.py; VP8, or H.264 where a test is
parametrized over the codec), viewers are plain aiortc peers that decode what they get."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from liveshop.media import aiortc_internals as internals
from liveshop.media.base import MediaError
from liveshop.media.negotiation import negotiated_streams
from liveshop.media.rtputil import H264, VP8, keyframe_start
from liveshop.media.sfu import SfuMediaBackend
from liveshop.media.sink import Sink
from liveshop.media.synthetic import read_index
from liveshop.media.synthetic_simulcast import NTP_EPOCH_S, SimulcastPublisher
from tests.media.peers import Events, Publisher, Viewer
from tests.waiting import until

WIDTHS = {"f": 640, "h": 320, "q": 160}
# a test parametrized with this runs once with a VP8 and once with an H.264 publisher
BOTH_CODECS = pytest.mark.parametrize("simulcast", [VP8, H264], indirect=True)


@pytest.fixture
async def simulcast(
    backend: SfuMediaBackend, events: Events, request: pytest.FixtureRequest
) -> AsyncIterator[SimulcastPublisher]:
    """A live three-layer publisher (VP8 unless the test parametrizes ``simulcast``)."""
    publisher = SimulcastPublisher(codec=getattr(request, "param", VP8))
    await publisher.start(backend)
    await events.wait("publisher_connected")
    yield publisher
    await publisher.close()


class Watching:
    """A viewer that keeps decoding in the background: frame widths (and, with ``indices``,
    the index each frame shows and its pts: aiortc's RTP timestamp counted from the first
    packet's), raw RTP headers and the keyframes' pts."""

    def __init__(self, viewer: Viewer, indices: bool = False) -> None:
        self.viewer = viewer
        self.indices = indices
        self.codec = ""  # the video codec the viewer's answer settled, and its payload type
        self.pt = -1
        self.origin: int | None = None  # the first RTP timestamp (aiortc's pts count from it)
        self.widths: list[int] = []
        self.frames: list[tuple[int, int, int]] = []  # width, index, pts
        self.packets: list[tuple[int, int, int, bytes]] = []  # ssrc, seq, ts, payload head
        self.key_stamps: set[int] = set()  # pts of the frames that begin with a keyframe
        self.task: asyncio.Task[None] | None = None

    def _on_rtp(self, packet: RtpPacket) -> None:
        if packet.payload_type != 0 and len(packet.payload) > 4:
            self.packets.append(
                (packet.ssrc, packet.sequence_number, packet.timestamp, packet.payload[:6])
            )
        if packet.payload_type == self.pt and packet.payload:
            if self.origin is None:
                self.origin = packet.timestamp
            if keyframe_start(self.codec, packet.payload):
                self.key_stamps.add((packet.timestamp - self.origin) & 0xFFFFFFFF)

    async def _decode(self) -> None:
        track = self.viewer.tracks["video"]
        while True:
            frame = await track.recv()
            if self.indices:
                self.frames.append((frame.width, read_index(frame), frame.pts & 0xFFFFFFFF))
            self.widths.append(frame.width)

    async def start(self, backend: SfuMediaBackend) -> None:
        await self.viewer.start(backend)
        video = negotiated_streams(self.viewer.pc.remoteDescription.sdp)["video"]
        self.codec, self.pt = video.codec, video.pt
        receiver = next(t.receiver for t in self.viewer.pc.getTransceivers() if t.kind == "video")
        internals.observe_rtp(receiver, self._on_rtp)
        await until(lambda: "video" in self.viewer.tracks)
        self.task = asyncio.ensure_future(self._decode())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.viewer.pc.close()


def video_sink(backend: SfuMediaBackend, session_id: str) -> Sink:
    return backend.rooms[1].viewers[session_id].sinks["video"]


def assert_switches_decode(watch: Watching, least: int) -> None:
    """At least ``least`` layer changes in what ``watch`` (with ``indices``) decoded, each
    beginning with a keyframe whose frame follows the old layer's last: no frame lost or garbled
    around it. The layers share frame indices (each frame is sent on every layer, one after the
    other), so the new layer may repeat the old one's last index; a server that switched at a
    delta frame leaves a gap (undecodable frames) or garbage (a wrong index)."""
    frames = watch.frames
    changes = [n for n in range(1, len(frames)) if frames[n][0] != frames[n - 1][0]]
    assert len(changes) >= least, frames
    for n in changes:
        old, new = frames[n - 1], frames[n]
        assert new[2] in watch.key_stamps, f"{old} -> {new}: the first frame is no keyframe"
        near = [x[1] for x in frames[max(0, n - 3) : n + 3]]
        steps = [(b - a) & 0xFFFF for a, b in itertools.pairwise(near)]
        assert all(d <= 2 for d in steps), f"{old} -> {new}: frames lost or garbled: {near}"


async def watching(backend: SfuMediaBackend, indices: bool = False) -> Watching:
    watch = Watching(Viewer(), indices)
    await watch.start(backend)
    return watch


@BOTH_CODECS
async def test_simulcast_offer_is_answered_for_each_layer(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """The answer receives f/h/q as simulcast in the offered codec with the RID extensions, and
    every layer arrives (its size read from its keyframes: VP8 headers, H.264 SPS)."""
    answer = simulcast.answer_sdp
    assert negotiated_streams(answer)["video"].codec == simulcast.codec
    assert backend.stats(1)["publisher"]["codec"] == simulcast.codec
    assert "a=simulcast:recv f;h;q" in answer
    for rid in "fhq":
        assert f"a=rid:{rid} recv" in answer
    assert "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in answer
    source = backend.rooms[1].publisher.sources["video"]  # type: ignore[union-attr]
    await until(lambda: all(layer.stats.size for layer in source.layers.values()), timeout=15)
    sizes = {rid: layer.stats.size for rid, layer in source.layers.items()}
    assert sizes == {"f": (640, 360), "h": (320, 180), "q": (160, 90)}
    assert [x.rid for x in source.ordered(time.monotonic())] == ["q", "h", "f"]


@BOTH_CODECS
async def test_each_layer_is_forwarded_by_player_size(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """Viewers whose players are 90, 180 and 720 pixels tall receive the publisher's codec and
    decode 160, 320 and 640 wide frames."""
    viewers = [await watching(backend) for _ in range(3)]
    assert [w.codec for w in viewers] == [simulcast.codec] * 3
    for watch, height in zip(viewers, (90, 180, 720), strict=True):
        assert backend.set_viewer_size(1, watch.viewer.session_id, None, height)
    for watch, width in zip(viewers, (160, 320, 640), strict=True):
        await until(lambda w=watch, x=width: w.widths[-5:] == [x] * 5, timeout=30)  # type: ignore[misc]
    for watch in viewers:
        await watch.close()


@BOTH_CODECS
async def test_switches_keep_one_continuous_stream(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """Across layer switches a viewer sees one SSRC, consecutive sequence numbers, rising
    timestamps and (VP8) consecutive picture ids, and decodes the new layer from its first
    frame: a keyframe (H.264: an IDR picture with its SPS) that follows the old layer's last."""
    # the target layer sends a few frames between the switch's keyframe request and the
    # keyframe (as over a longer round trip): a switch must wait for the keyframe
    simulcast.keyframe_delay = 3
    watch = await watching(backend, indices=True)
    session = watch.viewer.session_id
    sink = video_sink(backend, session)
    await until(lambda: watch.widths[-3:] == [640] * 3, timeout=30, message="640 wide frames")
    for height, width in ((90, 160), (None, 640), (180, 320)):
        backend.set_viewer_size(1, session, None, height)
        await until(
            lambda x=width: watch.widths[-3:] == [x] * 3,  # type: ignore[misc]
            timeout=30,
            message=f"{width} wide frames ({sink.describe()})",
        )
    assert video_sink(backend, session).switches >= 3
    packets = watch.packets
    assert len({p[0] for p in packets}) == 1
    # on a loaded machine loopback can drop a packet (a small gap) and a retransmission arrives
    # late (a small step back); a switch that broke the numbering would jump by a random amount
    seqs = [p[1] for p in packets]
    steps = [(b - a) & 0xFFFF for a, b in itertools.pairwise(seqs)]
    assert all(1 <= d <= 32 or d >= 0xFFFF - 64 for d in steps), "sequence numbers jumped"
    assert steps.count(1) >= 0.9 * len(steps)
    stamps = [p[2] for p in packets]
    assert all(
        (b - a) & 0xFFFFFFFF < 90000 or (a - b) & 0xFFFFFFFF < 90000
        for a, b in itertools.pairwise(stamps)
    ), "timestamps jumped"
    assert_switches_decode(watch, 3)
    if simulcast.codec == VP8:
        pictures: list[int] = []
        for head in (p[3] for p in packets):
            pic = ((head[2] & 0x7F) << 8) | head[3]
            if not pictures or pictures[-1] != pic:
                pictures.append(pic)
        pic_steps = [(b - a) & 0x7FFF for a, b in itertools.pairwise(pictures)]
        assert all(1 <= d <= 4 or d >= 0x7FFF - 8 for d in pic_steps), "picture ids jumped"
        assert pic_steps.count(1) >= 0.9 * len(pic_steps)
    await watch.close()


@BOTH_CODECS
async def test_keyframe_requests_go_to_the_target_layer_only(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """A viewer moving to the low layer asks for a keyframe of that layer, not of the others."""
    watch = await watching(backend)
    await until(lambda: watch.widths[-3:] == [640] * 3, timeout=30)
    before = {x.rid: x.keyframes for x in simulcast.layers}
    backend.set_viewer_size(1, watch.viewer.session_id, None, 90)
    await until(lambda: watch.widths[-3:] == [160] * 3, timeout=30)
    after = {x.rid: x.keyframes for x in simulcast.layers}
    assert after["q"] > before["q"]
    assert after["h"] == before["h"]
    await watch.close()


@pytest.mark.parametrize("simulcast", [H264], indirect=True)
async def test_a_viewer_without_the_simulcast_codec_gets_415(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """A VP8-only viewer of an H.264 simulcast show is refused with 415 (as for one layer)."""
    viewer = Viewer(video_codecs=["VP8"])
    with pytest.raises(MediaError) as err:
        await viewer.start(backend)
    assert err.value.status == 415
    assert backend.stats(1)["viewers"] == 0
    await viewer.pc.close()


async def test_stats_show_each_viewers_layer(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """The stats list the layers, each viewer's layer and link, and the count per layer."""
    small, large = await watching(backend), await watching(backend)
    backend.set_viewer_size(1, small.viewer.session_id, None, 90)
    await until(
        lambda: small.widths[-3:] == [160] * 3 and large.widths[-3:] == [640] * 3, timeout=30
    )
    stats: dict[str, Any] = backend.stats(1)
    assert [x["rid"] for x in stats["publisher"]["layers"]] == ["q", "h", "f"]
    assert stats["viewersPerLayer"] == {"q": 1, "f": 1}
    assert sorted(link["layer"] for link in stats["viewerLinks"]) == ["f", "q"]
    assert {"bandwidthKbps", "loss", "rttMs"} <= set(stats["viewerLinks"][0])
    for watch in (small, large):
        await watch.close()


async def test_viewers_sender_reports_carry_the_publishers_capture_clock(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """A viewer's video sender reports pair timestamps with the publisher's capture clock (lip
    sync), not with the server's clock when it forwarded them."""
    simulcast.clock_offset_s = -30.0  # the seller's clock is 30 s behind this machine's
    viewer = Viewer()
    await viewer.start(backend)
    reports: list[float] = []  # each video sender report's NTP time, as Unix time

    def on_report(ssrc: int, ntp: int, rtp: int) -> None:
        reports.append(ntp / (1 << 32) - NTP_EPOCH_S)

    receiver = next(t.receiver for t in viewer.pc.getTransceivers() if t.kind == "video")
    internals.tap_receiver(receiver, _ignore_rtp, lambda: None, on_sender_report=on_report)
    await until(lambda: any(abs(at - (time.time() - 30)) < 3 for at in reports), timeout=20)
    await viewer.pc.close()


async def _ignore_rtp(packet: RtpPacket) -> None:
    return None


async def test_single_layer_publisher_is_answered_without_simulcast(
    backend: SfuMediaBackend, events: Events
) -> None:
    """An ordinary one-layer offer gets no simulcast answer and its viewers never switch."""
    publisher = Publisher()
    session = await backend.publish(1, await _offer(publisher))
    assert "a=simulcast" not in session.answer_sdp and "a=rid" not in session.answer_sdp
    await _answer(publisher, session.answer_sdp)
    await events.wait("publisher_connected")
    viewer = Viewer()
    await viewer.start(backend)
    assert len(await viewer.frame_indices(10)) == 10
    assert video_sink(backend, viewer.session_id).switches == 0
    assert "layers" not in backend.stats(1)["publisher"]
    await viewer.pc.close()
    await publisher.pc.close()


async def _offer(publisher: Publisher) -> str:
    from liveshop.media.synthetic import offer

    return await offer(publisher.pc)


async def _answer(publisher: Publisher, sdp: str) -> None:
    from liveshop.media.synthetic import answer

    await answer(publisher.pc, sdp)


async def test_a_step_up_is_probed_with_padding_first(
    backend: SfuMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """A viewer that may climb is first sent padding on its RTX stream, then the higher layer."""
    watch = await watching(backend)
    padding: list[float] = []
    receiver = next(t.receiver for t in watch.viewer.pc.getTransceivers() if t.kind == "video")
    internals.observe_rtp(
        receiver,
        lambda p: padding.append(time.monotonic()) if p.padding_size and not p.payload else None,
    )
    assert backend.set_viewer_size(1, watch.viewer.session_id, None, 90)
    await until(lambda: watch.widths[-5:] == [160] * 5, timeout=30)
    assert not padding
    sink = video_sink(backend, watch.viewer.session_id)
    assert sink.selector.can_probe, "aiortc negotiates RTX, so the server can pad"
    assert backend.set_viewer_size(1, watch.viewer.session_id, None, 180)
    await until(lambda: watch.widths[-5:] == [320] * 5, timeout=30)
    assert len(padding) > 10
    await watch.close()
