"""A publisher's source on its own (no network): which of its RTX packets are forwarded, where in
an H.264 keyframe a joining viewer starts, and when coalesced keyframe requests are dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtpPacket

from liveshop.media import source as source_module
from liveshop.media.negotiation import Negotiated
from liveshop.media.source import Source
from tests.media.standalone import VP8_DELTA, VP8_KEY, capturing_sink
from tests.media.standalone import pc as pc
from tests.waiting import until


@dataclass
class Recorded:
    """Stands in for a viewer's sink on a source's layer: the sequence numbers forwarded to it."""

    seqs: list[int] = field(default_factory=list)

    async def forward(self, marker: int, seq: int, *rest: Any) -> None:
        self.seqs.append(seq)


@dataclass
class FakeOwner:
    """The publisher a source belongs to, still live."""

    closed: bool = False


async def test_an_rtx_copy_of_a_packet_already_here_is_not_forwarded() -> None:
    """RTX repairs a lost packet once; an RTX copy of one that arrived (Chromium's probe padding) is dropped."""
    neg = Negotiated("video", "0", "vp8", 90000, 96, {97: 96}, None)
    source = Source(FakeOwner(), neg, None, lambda coro: coro.close())  # type: ignore[arg-type]
    viewer = Recorded()
    source.main.sinks = (viewer,)  # type: ignore[assignment]

    def media(seq: int, payload: bytes) -> RtpPacket:
        return RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq, ssrc=1111,
                         payload=payload)  # fmt: skip

    def rtx(rtx_seq: int, original: int) -> RtpPacket:
        payload = original.to_bytes(2, "big") + VP8_DELTA
        return RtpPacket(payload_type=97, sequence_number=rtx_seq, timestamp=original,
                         ssrc=2222, payload=payload)  # fmt: skip

    await source.on_rtp(media(100, VP8_KEY))
    await source.on_rtp(media(101, VP8_DELTA))
    await source.on_rtp(media(103, VP8_DELTA))  # 102 was lost on the way in
    await source.on_rtp(rtx(7, 101))  # padding: a copy of a packet the viewer was sent
    await source.on_rtp(rtx(8, 102))  # the repair of the lost one
    await source.on_rtp(rtx(9, 102))  # ... and a second copy of it
    assert viewer.seqs == [100, 101, 103, 102]


STAP_A = bytes([0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE])  # SPS + PPS (RFC 6184 STAP-A)
IDR_START, IDR_END = bytes([0x7C, 0x85, 1]), bytes([0x7C, 0x45, 2])  # FU-A fragments of an IDR
P_SLICE = bytes([0x41, 0x9A, 3])


H264_NEG = Negotiated("video", "0", "H264", 90000, 96, {}, None)


def h264_source(pc: RTCPeerConnection, plis: list[object]) -> Source:
    """A single-layer H.264 source whose keyframe requests (PLIs) land in ``plis``."""

    def spawn(coro: Any) -> None:
        plis.append(coro)
        coro.close()

    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    return Source(FakeOwner(), H264_NEG, receiver, spawn)


def rtp(seq: int, ts: int, payload: bytes, marker: bool = False) -> RtpPacket:
    return RtpPacket(96, marker, seq, ts, 1234, payload)


async def test_a_viewer_joining_inside_an_h264_keyframe_waits_for_the_next(
    pc: RTCPeerConnection,
) -> None:
    """A viewer that joins after an H.264 keyframe's SPS/PPS packet does not start at its IDR
    slice (it could not decode it): it starts at the next keyframe's first packet."""
    source = h264_source(pc, [])
    sent: list[bytes] = []
    sink = capturing_sink(pc, H264_NEG, sent)
    frames = [(3000, [STAP_A, IDR_START, IDR_END]), (6000, [P_SLICE])]
    frames.append((9000, [STAP_A, IDR_START, IDR_END]))
    seq = 100
    for ts, payloads in frames:
        for n, payload in enumerate(payloads):
            await source.on_rtp(rtp(seq, ts, payload, n == len(payloads) - 1))
            seq += 1
            if seq == 101:  # between the first keyframe's SPS/PPS and its IDR slice
                source.attach(sink)
    assert [data[12:] for data in sent] == [STAP_A, IDR_START, IDR_END]


async def test_a_keyframe_drops_the_coalesced_keyframe_request(
    pc: RTCPeerConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests within the PLI interval wait for one deferred PLI, which is not sent when a
    keyframe arrived after the last of them, and is sent when one is asked for after it."""
    monkeypatch.setattr(source_module, "KEYFRAME_INTERVAL_S", 0.05)
    plis: list[object] = []
    source = h264_source(pc, plis)
    layer = source.main
    for seq in range(3):  # no keyframe yet: every packet asks for one
        await source.on_rtp(rtp(seq, 3000 * seq, P_SLICE, True))
    assert len(plis) == 1 and layer.pli_pending is not None
    await source.on_rtp(rtp(3, 9000, STAP_A))
    await until(lambda: layer.pli_pending is None, timeout=2)
    assert len(plis) == 1
    source.request_keyframe(layer)  # a viewer asks for a new one after that keyframe
    source.request_keyframe(layer)
    await until(lambda: len(plis) == 2, timeout=2)


@dataclass
class Timed:
    """Stands in for a viewer's sink: when each forwarded packet was sent and captured (NTP)."""

    times: list[tuple[int, int]] = field(default_factory=list)

    async def forward(self, *args: Any) -> None:
        ntp, captured = args[-2], args[-1]
        self.times.append((ntp, captured))


async def test_packets_carry_the_capture_time_the_publisher_reported() -> None:
    """After a sender report, each packet's capture time comes from it; before one, it is now."""
    neg = Negotiated("video", "0", "vp8", 90000, 96, {}, None)
    source = Source(FakeOwner(), neg, None, lambda coro: coro.close())  # type: ignore[arg-type]
    viewer = Timed()
    source.main.sinks = (viewer,)  # type: ignore[assignment]

    def media(seq: int, ts: int) -> RtpPacket:
        return RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=1111,
                         payload=VP8_KEY if seq == 1 else VP8_DELTA)  # fmt: skip

    await source.on_rtp(media(1, 9_000))
    source.on_sender_report(1111, 5 << 32, 0)  # ts 0 was captured at NTP 5 s
    source.on_sender_report(3333, 99 << 32, 0)  # a stream it does not have: ignored
    await source.on_rtp(media(2, 180_000))
    (sent, before), (_, after) = viewer.times
    assert before == sent  # no report yet: as if captured when forwarded
    assert after == 7 << 32  # 180 000 ticks of 90 kHz after ts 0
