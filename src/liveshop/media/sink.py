"""One viewer's outgoing stream of one kind: rewriting, NACK/RTX, padding probes, layer choice.

Per viewer track a :class:`Sink` that forwards exactly one layer of a :class:`~.source.Source`
at a time through its :class:`~.rtputil.Rewriter`, so the viewer sees one continuous stream
(SSRC, sequence numbers, timestamps, VP8 picture ids) whatever layer it is on. A video sink of a
simulcast source owns a :class:`~liveshop.domain.layers.LayerSelector` fed by the viewer's RTCP
(REMB, receiver reports, NACKs); the source switches it to the layer picked only at a keyframe of
that layer; while the selector probes, padding goes out on the RTX stream at the probe rate.
NACKs are answered from a per-viewer history (as RTX when negotiated): each packet at most once
per round trip, none stale, within :data:`NACK_SHARE` of the stream's rate; a NACK for the
keyframe a layer switch began with (within :data:`KEY_REPAIR_S`) also asks for a new keyframe.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)

from ..domain.layers import LayerPolicy, LayerSelector
from ..domain.playout import min_playout_delay_ms, worth_asking
from . import aiortc_internals as internals
from .base import NO_PLAYBACK, Playback
from .negotiation import Negotiated
from .rtputil import VP8, Rewriter, extension_parts, playout_delay_element, rtx_packet
from .stats import MissedShare, ReportedLoss

if TYPE_CHECKING:
    from .source import Layer, Source

HISTORY = 512  # packets kept per viewer stream for NACK
NACK_MAX_AGE_S = 0.5  # older packets are not retransmitted (the picture has moved on)
NACK_MAX_BEHIND = 64  # nor packets this far behind the newest sent (receivers reset on them)
NACK_SHARE = 0.5  # retransmissions may add at most this share of the stream's own rate
NACK_MIN_RATE_BPS = 128_000
KEY_REPAIR_S = 1.0  # a keyframe whose packets are NACKed this soon is asked for again
PAD_TICK_S = 0.01  # a probe's padding is paced in steps this long
PAD_BYTES = 255  # padding bytes per packet (the most one RTP packet's padding can be)
PLAYOUT_MAX_MS = 10_000  # the most playout delay a player may keep while asked for a least


class Sink:
    """One viewer's outgoing stream of one kind."""

    def __init__(
        self,
        kind: str,
        sender: RTCRtpSender,
        neg: Negotiated,
        partner: Callable[[], Sink | None],
        policy: LayerPolicy | None = None,
    ) -> None:
        self.kind = kind
        self.codec = neg.codec
        self.sender = sender
        self.neg = neg
        self.playout_ms = 0  # the least playout delay asked of the viewer's player (0: none)
        abs_id = neg.abs_ext_id if kind == "video" else None
        head, tail = self._extensions()
        self.rewriter = Rewriter(
            internals.sender_ssrc(sender),
            neg.pt,
            neg.clock_rate,
            head,
            ext_tail=tail,
            abs_time=abs_id is not None,
            vp8=kind == "video" and neg.codec == VP8,
        )
        self.send = internals.rtp_sink(sender)
        # RTX (RFC 4588) when the viewer's answer negotiated it for the codec: retransmissions
        # go on the RTX SSRC with their own sequence numbers; otherwise they repeat the packet
        self.rtx_pt = next((pt for pt, apt in neg.rtx.items() if apt == neg.pt), None)
        self.rtx_ssrc = internals.sender_rtx_ssrc(sender)
        self.rtx_seq = random.randint(0, 0xFFFF)
        self.history: list[bytes | None] = [None] * HISTORY
        self.missed = MissedShare()  # the share of packets the viewer asked for again
        self.reported = ReportedLoss()  # its receiver reports' loss, over meaningful windows
        self.sent_at = [0.0] * HISTORY
        self.resent_at = [0.0] * HISTORY
        self.nack_budget = 0.0  # bytes that may be retransmitted now
        self.nack_refill = 0.0
        self.joined_at = 0.0  # when the current layer was joined (older packets are stale)
        self.key_seq: int | None = None  # outgoing sequence numbers of the keyframe that began
        self.key_last: int | None = None  # ... the current layer (first, last so far)
        self.key_sent = 0.0  # ... when it was sent
        self.key_ts = -1  # ... and its incoming timestamp
        self.source: Source | None = None
        self.layer: Layer | None = None
        self.partner = partner  # the viewer's other sink (audio ↔ video)
        self.selector = LayerSelector(
            policy=policy or LayerPolicy(), can_probe=self.rtx_pt is not None
        )
        self.padding: asyncio.Task[None] | None = None  # a probe's padding being sent
        self.switches = 0
        self.playback: Playback | None = None  # what the viewer's browser last counted
        self.paused = False  # the layer rule paused this viewer's video (and said so)
        self.on_paused: Callable[[bool], None] | None = None  # told when that changes

    def video_paused(self, paused: bool) -> None:
        """The layer rule paused (True) or resumed (False, at the resumed layer's keyframe)
        this viewer's video; :attr:`on_paused` hears each change once."""
        if paused == self.paused:
            return
        self.paused = paused
        if self.on_paused is not None:
            self.on_paused(paused)

    async def forward(
        self,
        marker: int,
        seq: int,
        ts: int,
        payload: bytes,
        key: bool,
        now: float,
        ntp: int,
        captured: int,
    ) -> None:
        """Send one packet of the sink's layer (``ts`` its publisher's RTP timestamp; ``ntp``
        now, ``captured`` when the publisher captured ``ts``, both NTP): rewritten into the
        viewer's one continuous stream, kept for repairs; the viewer's sender reports then pair
        the rewritten timestamp with ``captured``. Packets of a video layer before the sink's
        first keyframe, and late ones from before a switch, are dropped."""
        rw = self.rewriter
        if not rw.synced:
            if self.kind == "video" and not key:
                return
            rw.sync(seq, ts, now)
        elif self.switches and rw.before_sync(seq):
            return  # a late retransmission from before this layer was joined
        data = rw.rewrite(marker, seq, ts, payload, now, ntp)
        if key and now - self.joined_at < KEY_REPAIR_S:  # the keyframe a switch starts with
            self.key_seq = self.key_last = rw.last_seq
            self.key_sent, self.key_ts = now, ts
        elif ts == self.key_ts and self.key_seq is not None:
            self.key_last = rw.last_seq
        slot = rw.last_seq % HISTORY if rw.last_seq is not None else 0
        self.history[slot] = data
        self.sent_at[slot] = now
        try:
            await self.send(data)
        except ConnectionError:
            return
        internals.record_sent(self.sender, captured, rw.last_ts, rw.packets, rw.octets)

    async def _retransmit(self, lost: list[int]) -> None:
        """Answer a NACK from history (as RTX when negotiated): each packet at most once per round trip, none older than
        NACK_MAX_AGE_S or NACK_MAX_BEHIND packets or the last layer switch, and no more than
        NACK_SHARE of the stream's rate (a congested viewer's NACKs must not multiply the
        traffic that congests it)."""
        now = time.monotonic()
        rate = max(self.rate(), NACK_MIN_RATE_BPS) * NACK_SHARE / 8
        self.nack_budget = min(rate, self.nack_budget + (now - self.nack_refill) * rate)
        self.nack_refill = now
        rtt = internals.sender_rtt(self.sender) or 0.05
        newest = self.rewriter.last_seq or 0
        oldest = max(now - NACK_MAX_AGE_S, self.joined_at)
        for seq in lost:
            slot = seq % HISTORY
            data = self.history[slot]
            if data is None or int.from_bytes(data[2:4], "big") != seq:
                continue
            if (newest - seq) & 0xFFFF > NACK_MAX_BEHIND or self.sent_at[slot] < oldest:
                continue  # stale, or from the layer before the last switch
            if now - self.resent_at[slot] < rtt:
                continue
            if self.nack_budget < len(data):
                return
            self.nack_budget -= len(data)
            self.resent_at[slot] = now
            if self.rtx_pt is not None:
                data = rtx_packet(data, self.rtx_pt, self.rtx_seq, self.rtx_ssrc)
                self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
            with contextlib.suppress(ConnectionError):
                await self.send(data)

    def _keyframe_lost(self, lost: list[int]) -> bool:
        """True when the viewer asks again for a packet of the keyframe its current layer began
        with, within KEY_REPAIR_S: on the congested link of a viewer just moved down a layer the
        retransmission may well be lost too, and without that keyframe the new layer cannot be
        decoded (a receiver decodes the new layer's deltas against the old picture)."""
        first, last = self.key_seq, self.key_last
        if first is None or last is None or time.monotonic() - self.key_sent > KEY_REPAIR_S:
            return False
        span = (last - first) & 0xFFFF
        return any((seq - first) & 0xFFFF <= span for seq in lost)

    # layer selection ---------------------------------------------------------------------------

    def rate(self) -> float:
        """The bitrate being sent to this viewer now (its layer's), bits/s."""
        return self.layer.rate() if self.layer is not None else 0.0

    def reselect(self, now: float, force: bool = False) -> None:
        """Run the viewer's layer rule and move to the layer it picks (simulcast video only)."""
        source = self.source
        if source is None or not source.simulcast or self.kind != "video":
            return
        self.selector.audio_bps = self._audio_rate()
        layers = source.ordered(now)
        if not layers:
            if force:
                source.select(self, source.main.rid)
            return
        choice = self.selector.choose(now, [x.info() for x in layers])
        source.select(self, choice)
        extra = self.selector.probe_bps(now)
        if extra > 0 and self.padding is None:
            self.padding = asyncio.ensure_future(self._pad())

    async def _pad(self) -> None:
        """Send padding on the RTX stream at the selector's probe rate while it probes."""
        assert self.rtx_pt is not None
        try:
            started = last = time.monotonic()
            owed = 0.0
            while self.selector.probe_bps(last) > 0 and self.source is not None:
                await asyncio.sleep(PAD_TICK_S)
                now = time.monotonic()
                owed += self.selector.probe_bps(last) * (now - last) / 8
                last = now
                ntp = current_ntp_time()
                while owed >= PAD_BYTES:
                    owed -= PAD_BYTES
                    data = self.rewriter.padding(
                        self.rtx_pt, self.rtx_seq, self.rtx_ssrc, PAD_BYTES, ntp
                    )
                    self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
                    with contextlib.suppress(ConnectionError):
                        await self.send(data)
                if now - started > 5.0:  # never longer than a probe can last
                    break
        finally:
            self.padding = None

    def close(self) -> None:
        """Stop any padding (the viewer is leaving)."""
        if self.padding is not None:
            self.padding.cancel()

    def set_max_height(self, height: int | None) -> None:
        """The viewer's player is ``height`` pixels tall (None: no limit, e.g. full screen)."""
        self.selector.max_height = height
        self.reselect(time.monotonic())

    def _audio_rate(self) -> float:
        """The rate of this viewer's audio (bits/s; 0 without audio)."""
        audio = self if self.kind == "audio" else self.partner()
        return audio.rate() if audio is not None and audio.kind == "audio" else 0.0

    def _video(self) -> Sink | None:
        return self if self.kind == "video" else self.partner()

    def _on_report(self, highest_seq: int, cumulative_lost: int) -> None:
        video = self._video()
        if video is None:
            return
        now = time.monotonic()
        loss = self.reported.add(now, highest_seq, cumulative_lost)
        # video's own reports while it flows; the audio's while video is paused
        if (self.kind == "video") == (video.layer is not None):
            video.selector.audio_bps = video._audio_rate()
            if loss is not None:
                video.selector.report_loss(now, loss, video.rate())
            video.selector.report_rtt(now, internals.sender_rtt(self.sender), video.rate())
            video.reselect(now)
        if self.kind == "video":
            self._ask_playout_delay()

    def _ask_playout_delay(self) -> None:
        """Ask the viewer's player for a round trip of playout delay while packets are being
        repaired on a long path (see :mod:`liveshop.domain.playout`), where it negotiated the
        playout-delay extension; from the next packet on."""
        ext_id = self.neg.playout_ext_id
        if ext_id is None:
            return
        rtt = internals.sender_rtt(self.sender)
        wanted = min_playout_delay_ms(rtt, self.missed.share(self.rewriter.packets))
        if not worth_asking(self.playout_ms, wanted):
            return
        self.playout_ms = wanted
        self.rewriter.set_extensions(
            *self._extensions(playout_delay_element(ext_id, wanted, PLAYOUT_MAX_MS))
        )

    def _extensions(self, extra: bytes = b"") -> tuple[bytes, bytes]:
        """This stream's header extension block around the abs-send-time value (video only)."""
        neg = self.neg
        abs_id = neg.abs_ext_id if self.kind == "video" else None
        return extension_parts(neg.mid_ext_id, neg.mid, abs_id, extra)

    async def on_rtcp(self, packet: Any) -> bool:
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                if self.source is not None:
                    self.source.request_keyframe(self.layer)
                return True
            if packet.fmt == RTCP_PSFB_APP:
                with contextlib.suppress(ValueError):
                    bitrate, _ssrcs = unpack_remb_fci(packet.fci)
                    video = self._video()
                    if video is not None:
                        now = time.monotonic()
                        video.selector.report_estimate(now, float(bitrate), video.rate())
                        video.reselect(now)
                return True
            return False
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            for seq in packet.lost:
                self.missed.missed(seq)
            source = self.source
            if self.kind == "video" and source is not None:
                if self._keyframe_lost(packet.lost):
                    source.request_keyframe(self.layer)  # a retransmission may be lost too
                if source.simulcast:
                    now = time.monotonic()
                    self.selector.report_nacks(
                        now, self.missed.count, self.rewriter.packets, self.rate()
                    )
                    self.reselect(now)
            await self._retransmit(packet.lost)
            return True
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == self.rewriter.ssrc:
                    self._on_report(report.highest_sequence, report.packets_lost)
        return False

    def describe(self) -> dict[str, Any]:
        """This viewer's link as the stats route shows it."""
        sel = self.selector
        rtt = internals.sender_rtt(self.sender)
        budget = sel.budget_bps()
        return {
            "layer": (self.layer.rid if self.layer is not None else None),
            "paused": self.source is not None and self.source.simulcast and self.layer is None,
            "bandwidthKbps": (round(budget / 1000, 1) if budget != float("inf") else None),
            "rembKbps": round(sel.remb_bps / 1000, 1) if sel.remb_bps is not None else None,
            "loss": round(sel.loss, 3),
            "rttMs": round(rtt * 1000, 1) if rtt is not None else None,
            "switches": self.switches,
            **(self.playback.describe() if self.playback is not None else NO_PLAYBACK),
        }
