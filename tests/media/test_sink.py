"""A viewer's video sink on its own (no network): which NACKs make it ask the publisher for a
new keyframe, and when it asks the viewer's player for more playout delay."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import (
    RTCP_RTPFB_NACK,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
)

from liveshop.media import sink as sink_module
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
        await sink.forward(int(i >= 2), 100 + i, ts, payload, key, now, 0, 0)
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


async def test_a_long_lossy_path_asks_the_player_for_a_round_trip_of_delay(
    pc: RTCPeerConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the viewer negotiated playout-delay, a 150 ms path with repairs gets packets asking
    its player for at least that much playout delay; a clean one gets none."""
    sent: list[bytes] = []
    neg = Negotiated("video", "0", "vp8", 90000, 96, {97: 96}, None, playout_ext_id=6)
    made = capturing_sink(pc, neg, sent)
    made.source = FakeSource()  # type: ignore[assignment]
    await switched_and_sent(made)
    assert all(not packet[0] & 0x10 for packet in sent)  # no header extension at all yet
    monkeypatch.setattr(sink_module.internals, "sender_rtt", lambda sender: 0.150)
    monkeypatch.setattr(made.missed, "share", lambda sent_total: 0.03)
    report = RtcpRrPacket(ssrc=1)
    report.reports = [
        RtcpReceiverInfo(
            ssrc=made.rewriter.ssrc, fraction_lost=0, packets_lost=0, highest_sequence=1,
            jitter=0, lsr=0, dlsr=0,
        )
    ]  # fmt: skip
    await made.on_rtcp(report)
    sent.clear()
    await switched_and_sent(made)
    header = RtpPacket.parse(sent[-1])
    assert header.extensions is not None
    element = sent[-1][16 : 16 + 4 * int.from_bytes(sent[-1][14:16], "big")]
    at = element.index(bytes([(6 << 4) | 2]))
    value = int.from_bytes(element[at + 1 : at + 4], "big")
    assert (value >> 12) * 10 >= 150  # the minimum, in 10 ms units
    assert (value & 0xFFF) >= value >> 12  # the maximum is no lower
