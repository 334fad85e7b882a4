"""A viewer's video sink on its own (no network): which NACKs make it ask the publisher for a
new keyframe."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

from liveshop.media.negotiation import Negotiated
from liveshop.media.sink import Sink
from tests.media.standalone import VP8_DELTA, VP8_KEY, capturing_sink
from tests.media.standalone import pc as pc


@dataclass
class FakeSource:
    """Records keyframe requests; not simulcast, so the sink runs no layer rule."""

    simulcast: bool = False
    requests: list[Any] = field(default_factory=list)

    def request_keyframe(self, layer: Any = None) -> None:
        self.requests.append(layer)


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
