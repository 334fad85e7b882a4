"""A viewer's video sink on its own (no network): which NACKs make it ask the publisher for a
new keyframe; and a publisher's source: which of its RTX packets are forwarded."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket, RtpPacket

from liveshop.media.forwarding import Sink, Source
from liveshop.media.negotiation import Negotiated

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
async def sink() -> AsyncIterator[Sink]:
    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video", direction="sendonly").sender
    neg = Negotiated("video", "0", "vp8", 90000, 96, {97: 96}, None)
    made = Sink("video", sender, neg, lambda: None)
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    made.send = send
    made.source = FakeSource()  # type: ignore[assignment]
    yield made
    await pc.close()


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
