"""A viewer's video sink and a publisher's source on their own (no network): which NACKs make a
sink ask the publisher for a new keyframe, which of a source's RTX packets are forwarded, where
in an H.264 keyframe a joining viewer starts, and when coalesced keyframe requests are dropped."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket, RtpPacket

from liveshop.media import forwarding
from liveshop.media.forwarding import Sink, Source
from liveshop.media.negotiation import Negotiated
from tests.waiting import until

VP8_KEY = bytes([0x90, 0x80, 0x05, 0x00, 0x00, 0x00])  # descriptor S=1, picture id; P bit clear
VP8_DELTA = bytes([0x80, 0x80, 0x06, 0x01, 0x00, 0x00])  # not a frame start of a keyframe


@dataclass
class FakeSource:
    """Records keyframe requests; not simulcast, so the sink runs no layer rule."""

    simulcast: bool = False
    requests: list[Any] = field(default_factory=list)

    def request_keyframe(self, layer: Any = None) -> None:
        self.requests.append(layer)


@pytest.fixture
async def pc() -> AsyncIterator[RTCPeerConnection]:
    """A peer connection to take senders and receivers from (never connected)."""
    made = RTCPeerConnection()
    yield made
    await made.close()


def capturing_sink(pc: RTCPeerConnection, neg: Negotiated, sent: list[bytes]) -> Sink:
    """A video sink whose outgoing packets land in ``sent``."""
    sender = pc.addTransceiver("video", direction="sendonly").sender
    made = Sink("video", sender, neg, lambda: None)

    async def send(data: bytes) -> None:
        sent.append(data)

    made.send = send
    return made


@pytest.fixture
async def sink(pc: RTCPeerConnection) -> Sink:
    """A VP8 sink (RTX negotiated) whose source records keyframe requests."""
    made = capturing_sink(pc, Negotiated("video", "0", "vp8", 90000, 96, {97: 96}, None), [])
    made.source = FakeSource()  # type: ignore[assignment]
    return made


async def switched_and_sent(sink: Sink) -> list[int]:
    """The sink joins a layer now and forwards a 3-packet keyframe then 3 delta frames; returns
    the outgoing sequence numbers."""
    sink.joined_at = time.monotonic()
    out = []
    for i in range(6):
        key = i == 0
        payload = VP8_KEY if key else VP8_DELTA
        ts = 3000 if i < 3 else 3000 + 3000 * (i - 2)
        now = time.monotonic()
        await sink.forward(int(i >= 2), 100 + i, ts, payload, key, now, 0)
        assert sink.rewriter.last_seq is not None
        out.append(sink.rewriter.last_seq)
    return out


def nack(sink: Sink, seq: int) -> RtcpRtpfbPacket:
    packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sink.rewriter.ssrc)
    packet.lost = [seq]
    return packet


async def test_a_nacked_switch_keyframe_is_asked_for_again(sink: Sink) -> None:
    """A NACK for a packet of the keyframe the layer switch began with asks for a new keyframe."""
    seqs = await switched_and_sent(sink)
    await sink.on_rtcp(nack(sink, seqs[1]))
    assert len(sink.source.requests) == 1  # type: ignore[union-attr]


async def test_a_nacked_delta_packet_is_only_retransmitted(sink: Sink) -> None:
    """A NACK for a packet after the keyframe is answered from history, with no keyframe asked."""
    seqs = await switched_and_sent(sink)
    await sink.on_rtcp(nack(sink, seqs[4]))
    assert sink.source.requests == []  # type: ignore[union-attr]


@dataclass
class Recorded:
    """Stands in for a viewer's sink on a source's layer: the sequence numbers forwarded to it."""

    seqs: list[int] = field(default_factory=list)

    async def forward(self, marker: int, seq: int, *rest: Any) -> None:
        self.seqs.append(seq)


@dataclass
class Open:
    closed: bool = False


async def test_an_rtx_copy_of_a_packet_already_here_is_not_forwarded() -> None:
    """RTX repairs a lost packet once; an RTX copy of one that arrived (Chromium's probe padding) is dropped."""
    neg = Negotiated("video", "0", "vp8", 90000, 96, {97: 96}, None)
    source = Source(Open(), neg, None, lambda coro: coro.close())  # type: ignore[arg-type]
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


@dataclass
class FakeOwner:
    """The publisher a source belongs to, still live."""

    closed: bool = False


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
    monkeypatch.setattr(forwarding, "KEYFRAME_INTERVAL_S", 0.05)
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
