"""The SFU's forwarding objects: a publisher's incoming streams and each viewer's outgoing ones.

Per publisher track a :class:`Source`; per incoming RTP stream of it a :class:`Layer` (one for a
single-layer publisher, one per RID for a simulcast one); per viewer track a :class:`Sink`
that forwards exactly one layer at a time through its :class:`~.rtputil.Rewriter`, so the viewer
sees one continuous stream (SSRC, sequence numbers, timestamps, VP8 picture ids) whatever layer
it is on. A video sink of a simulcast source owns a :class:`~liveshop.domain.layers.LayerSelector`
fed by the viewer's RTCP (REMB, receiver reports); it switches layers only at a keyframe of the
target layer (asked for with a PLI, at most one per layer per :data:`KEYFRAME_INTERVAL_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
)

from ..domain.layers import Layer as LayerInfo
from ..domain.layers import LayerSelector
from . import aiortc_internals as internals
from .negotiation import Negotiated
from .recording import Recorder
from .rtputil import VP8, Rewriter, extension_parts, keyframe_start, rtx_packet
from .stats import MissedShare, ReportedLoss, SeenSeqs, StreamStats

KEYFRAME_INTERVAL_S = 1.0
HISTORY = 512  # packets kept per viewer stream for NACK
NACK_MAX_AGE_S = 0.5  # older packets are not retransmitted (the picture has moved on)
NACK_MAX_BEHIND = 64  # nor packets this far behind the newest sent (receivers reset on them)
NACK_SHARE = 0.5  # retransmissions may add at most this share of the stream's own rate
NACK_MIN_RATE_BPS = 128_000
ACTIVE_S = 2.0  # a layer with no packet for this long is not offered to viewers
RID_RANK = {"q": 0, "h": 1, "f": 2}  # the usual simulcast names, lowest first
KEY_REPAIR_S = 1.0  # a keyframe whose packets are NACKed this soon is asked for again
PAD_TICK_S = 0.01  # a probe's padding is paced in steps this long
PAD_BYTES = 255  # padding bytes per packet (the most one RTP packet's padding can be)

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class Owner(Protocol):
    """The publisher a source belongs to (only whether it has closed matters here)."""

    closed: bool


class IdleTrack(MediaStreamTrack):
    """The track behind each viewer sender: aiortc's encoder loop waits on it forever, packets
    are sent beside it. Stopping it ends the sender's loop."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.Event()

    async def recv(self) -> Any:
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._ended.set()
        super().stop()


class Layer:
    """One incoming RTP stream of a source: the only one, or one simulcast layer (``rid``)."""

    def __init__(self, rid: str | None, codec: str) -> None:
        self.rid = rid
        self.ssrc: int | None = None
        self.rtx_ssrc: int | None = None
        self.stats = StreamStats(codec)
        self.received = SeenSeqs()  # media packets that arrived (an RTX copy of one is dropped)
        self.sinks: tuple[Sink, ...] = ()  # forwarding this layer now
        self.waiting: tuple[Sink, ...] = ()  # switching to it at its next keyframe
        self.last_pli = -10.0
        self.pli_pending: asyncio.TimerHandle | None = None
        self.wanted_at = 0.0  # the last keyframe request the pending PLI stands for
        self.last_seen = 0.0
        self.keyed = False  # a keyframe of this layer has arrived
        self.key_ts = -1  # the RTP timestamp of its last keyframe
        self.key_at = -1.0  # and when it arrived
        self.rate_bps = 0.0
        self._window = 0.0

    def rate(self) -> float:
        """The layer's bitrate (bits/s), smoothed over its last one-second windows."""
        stats = self.stats
        if stats.win_start != self._window:
            self._window = stats.win_start
            new = stats.bitrate_kbps * 1000
            self.rate_bps = new if self.rate_bps == 0 else 0.6 * self.rate_bps + 0.4 * new
        return self.rate_bps

    def info(self) -> LayerInfo:
        size = self.stats.size
        return LayerInfo(self.rid or "", self.rate(), size[1] if size else None)


class Source:
    """One incoming track of the publisher; fans each layer's packets out to its sinks."""

    def __init__(
        self,
        owner: Owner,
        neg: Negotiated,
        receiver: RTCRtpReceiver,
        spawn: Spawn,
        rids: list[str] | None = None,
    ) -> None:
        self.owner = owner
        self.kind = neg.kind
        self.codec = neg.codec
        self.clock_rate = neg.clock_rate
        self.pt = neg.pt
        self.rtx = neg.rtx
        self.receiver = receiver
        self.spawn = spawn
        self.recorder: Recorder | None = None
        self.rids = list(rids or [])
        self.simulcast = bool(self.rids)
        self.layers: dict[str | None, Layer] = (
            {rid: Layer(rid, neg.codec) for rid in self.rids}
            if self.simulcast
            else {None: Layer(None, neg.codec)}
        )
        # the recorded (and reported) layer: the full one ("f") or the first listed
        recorded = "f" if "f" in self.rids else (self.rids[0] if self.rids else None)
        self.main = self.layers[recorded]
        self.by_ssrc: dict[int, Layer] = {}

    @property
    def stats(self) -> StreamStats:
        return self.main.stats

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return tuple(s for layer in self.layers.values() for s in (*layer.sinks, *layer.waiting))

    def ordered(self, now: float) -> list[Layer]:
        """The layers that are flowing, lowest quality first: by height once every layer's is
        known (from a keyframe; one is asked for while it is not), by name (q < h < f) and
        bitrate until then."""
        active = [x for x in self.layers.values() if now - x.last_seen < ACTIVE_S]
        unknown = [x for x in active if x.stats.size is None]
        for layer in unknown:
            self.request_keyframe(layer)
        if unknown:  # the usual names first (q < h < f), then the measured rate
            return sorted(active, key=lambda x: (RID_RANK.get(x.rid or "", 1), x.rate()))
        return sorted(active, key=lambda x: ((x.stats.size or (0, 0))[1], x.rate()))

    # sinks -------------------------------------------------------------------------------------

    def attach(self, sink: Sink) -> None:
        """Start forwarding to ``sink`` (video: from the next keyframe of its layer)."""
        if sink.source is self:
            return
        sink.source = self
        sink.layer = None
        sink.rewriter.rebase()
        if self.simulcast and self.kind == "video":
            sink.reselect(time.monotonic(), force=True)
        else:
            self._join(sink, self.main)

    def detach(self, sink: Sink) -> None:
        for layer in self.layers.values():
            layer.sinks = tuple(s for s in layer.sinks if s is not sink)
            layer.waiting = tuple(s for s in layer.waiting if s is not sink)
        if sink.source is self:
            sink.source = None
            sink.layer = None

    def _join(self, sink: Sink, layer: Layer) -> None:
        sink.layer = layer
        layer.sinks = (*layer.sinks, sink)
        if self.kind == "video":
            sink.video_paused(False)  # a single-layer publisher that replaced a simulcast one
            self.request_keyframe(layer)

    def select(self, sink: Sink, rid: str | None) -> None:
        """Move ``sink`` to layer ``rid`` at that layer's next keyframe; None pauses its video."""
        target = self.layers.get(rid) if rid is not None else None
        for layer in self.layers.values():
            if sink in layer.waiting and layer is not target:
                layer.waiting = tuple(s for s in layer.waiting if s is not sink)
        current = sink.layer
        if target is current:
            return
        if target is None:
            if current is not None:
                current.sinks = tuple(s for s in current.sinks if s is not sink)
                sink.layer = None
            sink.video_paused(True)
            return
        if sink not in target.waiting:
            target.waiting = (*target.waiting, sink)
        self.request_keyframe(target)

    def _switch_waiting(self, layer: Layer) -> None:
        moving = layer.waiting
        layer.waiting = ()
        for sink in moving:
            old = sink.layer
            if old is not None:
                old.sinks = tuple(s for s in old.sinks if s is not sink)
            sink.layer = layer
            sink.rewriter.rebase()
            sink.switches += 1
            sink.joined_at = time.monotonic()
            layer.sinks = (*layer.sinks, sink)
            sink.video_paused(False)

    # keyframes ---------------------------------------------------------------------------------

    def request_keyframe(self, layer: Layer | None = None) -> None:
        """Ask the publisher for a keyframe of ``layer`` (default: every layer somebody watches
        or waits for), at most once per layer per KEYFRAME_INTERVAL_S (requests coalesce, and
        coalesced ones are dropped when a keyframe arrives after the last of them)."""
        if self.kind != "video" or self.owner.closed:
            return
        if layer is None:
            for each in self.layers.values():
                if each.sinks or each.waiting:
                    self.request_keyframe(each)
            return
        now = time.monotonic()
        wait = layer.last_pli + KEYFRAME_INTERVAL_S - now
        if wait <= 0:
            layer.last_pli = now
            if layer.ssrc is not None:
                self.spawn(internals.send_pli(self.receiver, layer.ssrc))
            return
        layer.wanted_at = now
        if layer.pli_pending is None:
            layer.pli_pending = asyncio.get_running_loop().call_later(
                wait, self._deferred_pli, layer
            )

    def _deferred_pli(self, layer: Layer) -> None:
        layer.pli_pending = None
        if layer.key_at < layer.wanted_at:  # else a keyframe has answered every request
            self.request_keyframe(layer)

    def cancel(self) -> None:
        for layer in self.layers.values():
            if layer.pli_pending is not None:
                layer.pli_pending.cancel()
                layer.pli_pending = None

    # packets -----------------------------------------------------------------------------------

    def _learn(self, packet: RtpPacket) -> Layer | None:
        """The layer of a packet from an SSRC not seen yet (None: drop it)."""
        rtx = packet.payload_type in self.rtx
        if not self.simulcast:
            layer = self.main
            if rtx:
                if layer.ssrc is None:
                    return None
                layer.rtx_ssrc = packet.ssrc
            elif packet.payload_type == self.pt:
                layer.ssrc = packet.ssrc
                layer.stats.restart()
                layer.received.clear()
            else:
                return None
            self.by_ssrc[packet.ssrc] = layer
            return layer
        ext = packet.extensions
        rid = ext.repaired_rtp_stream_id if rtx else ext.rtp_stream_id
        found = self.layers.get(rid) if rid else None
        if found is None:
            return None
        if rtx:
            found.rtx_ssrc = packet.ssrc
            if found.ssrc is not None:
                internals.map_rtx(self.receiver, packet.ssrc, found.ssrc)
        elif packet.payload_type == self.pt:
            if found.ssrc is not None and found.ssrc != packet.ssrc:
                self.by_ssrc.pop(found.ssrc, None)
            found.ssrc = packet.ssrc
            found.stats.restart()
            found.received.clear()
            if found.rtx_ssrc is not None:
                internals.map_rtx(self.receiver, found.rtx_ssrc, packet.ssrc)
        else:
            return None
        self.by_ssrc[packet.ssrc] = found
        return found

    async def on_rtp(self, packet: RtpPacket) -> None:
        layer = self.by_ssrc.get(packet.ssrc)
        if layer is None:
            layer = self._learn(packet)
            if layer is None:
                return
        pt = packet.payload_type
        payload = packet.payload
        if pt == self.pt:
            seq = packet.sequence_number
            layer.stats.count(seq, len(payload), packet.marker)
            layer.received.add(seq)
        elif pt in self.rtx:
            if len(payload) < 2 or layer.ssrc is None:
                return
            seq = int.from_bytes(payload[:2], "big")
            if seq in layer.received:
                # a copy of a packet already here: a late repair, or Chromium probing its uplink
                # with old packets (RTX "payload padding", at up to 3× a layer's own rate);
                # forwarded, it would crowd the viewers of that layer off their links
                return
            layer.received.add(seq)
            payload = payload[2:]
        else:
            return
        if not payload:
            return
        key = False
        if self.kind == "video":
            # only the first key packet of a keyframe starts a viewer (or a switch): an H.264
            # one has several (the SPS/PPS STAP-A, then each IDR slice's first packet) and a
            # viewer started at a later one would get no parameter sets for the new picture size
            key = keyframe_start(self.codec, payload) and packet.timestamp != layer.key_ts
            if key:
                layer.key_ts, layer.key_at = packet.timestamp, time.monotonic()
            if key and layer.stats.size_due():
                layer.stats.sample_size(payload)
            if key:
                layer.keyed = True
            elif not layer.keyed:  # its first keyframe was lost (sent before DTLS was up):
                self.request_keyframe(layer)  # stats, recording and switches need one
        now = time.monotonic()
        layer.last_seen = now
        if self.recorder is not None and layer is self.main:
            self.recorder.put(self.kind, seq, packet.timestamp, bool(packet.marker), payload)
        if key and layer.waiting:
            self._switch_waiting(layer)
        sinks = layer.sinks
        if sinks:
            ntp = current_ntp_time()
            marker = packet.marker
            ts = packet.timestamp
            for sink in sinks:
                await sink.forward(marker, seq, ts, payload, key, now, ntp)


class Sink:
    """One viewer's outgoing stream of one kind."""

    def __init__(
        self, kind: str, sender: RTCRtpSender, neg: Negotiated, partner: Callable[[], Sink | None]
    ) -> None:
        self.kind = kind
        self.codec = neg.codec
        self.sender = sender
        abs_id = neg.abs_ext_id if kind == "video" else None
        head, tail = extension_parts(neg.mid_ext_id, neg.mid, abs_id)
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
        self.selector = LayerSelector(can_probe=self.rtx_pt is not None)
        self.padding: asyncio.Task[None] | None = None  # a probe's padding being sent
        self.switches = 0
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
        self, marker: int, seq: int, ts: int, payload: bytes, key: bool, now: float, ntp: int
    ) -> None:
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
        internals.record_sent(self.sender, ntp, rw.last_ts, rw.packets, rw.octets)

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
        }
