"""A publisher's incoming track: its layers, keyframe requests, and fan-out to viewers' sinks.

Per publisher track a :class:`Source`; per incoming RTP stream of it a :class:`Layer` (one for a
single-layer publisher, one per RID for a simulcast one). Each packet of a layer goes to the
:class:`~.sink.Sink` objects on that layer; a sink joins (or switches to) a video layer only at
the first packet of one of its keyframes, asked for with a PLI at most once per layer per
:data:`KEYFRAME_INTERVAL_S` (requests within that interval coalesce into one deferred PLI,
dropped when a keyframe arrives after the last of them). An RTX copy of a packet that already
arrived is not forwarded. Each layer keeps the publisher's capture clock from its sender
reports (:class:`~.senderclock.SenderClock`), so the viewers' sender reports describe when the
media was captured, not when it was forwarded (lip sync). :meth:`Source.ordered` lists the
flowing layers, lowest first, for the viewers' layer rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from aiortc import RTCRtpReceiver
from aiortc.clock import current_ntp_time
from aiortc.rtp import RtpPacket

from ..domain.layers import Layer as LayerInfo
from . import aiortc_internals as internals
from .negotiation import Negotiated
from .recording import Recorder
from .rtputil import keyframe_start
from .senderclock import SenderClock
from .stats import SeenSeqs, StreamStats

if TYPE_CHECKING:
    from .sink import Sink

KEYFRAME_INTERVAL_S = 1.0
ACTIVE_S = 2.0  # a layer with no packet for this long is not offered to viewers
RID_RANK = {"q": 0, "h": 1, "f": 2}  # the usual simulcast names, lowest first

Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class Owner(Protocol):
    """The publisher a source belongs to (only whether it has closed matters here)."""

    closed: bool


class Layer:
    """One incoming RTP stream of a source: the only one, or one simulcast layer (``rid``)."""

    def __init__(self, rid: str | None, codec: str, clock_rate: int) -> None:
        self.rid = rid
        self.ssrc: int | None = None
        self.rtx_ssrc: int | None = None
        self.stats = StreamStats(codec)
        self.received = SeenSeqs()  # media packets that arrived (an RTX copy of one is dropped)
        self.clock = SenderClock(clock_rate)  # the publisher's, from its sender reports
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
            {rid: Layer(rid, neg.codec, neg.clock_rate) for rid in self.rids}
            if self.simulcast
            else {None: Layer(None, neg.codec, neg.clock_rate)}
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

    def on_sender_report(self, ssrc: int, ntp: int, rtp: int) -> None:
        """The publisher's sender report for ``ssrc``: that layer's capture clock (a report
        for an SSRC not seen yet, or for a retransmission stream, is ignored)."""
        layer = self.by_ssrc.get(ssrc)
        if layer is not None and layer.ssrc == ssrc:
            layer.clock.report(ntp, rtp)

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
        now = time.monotonic()
        key = False
        if self.kind == "video":
            # only the first key packet of a keyframe starts a viewer (or a switch): an H.264
            # one has several (the SPS/PPS STAP-A, then each IDR slice's first packet) and a
            # viewer started at a later one would get no parameter sets for the new picture size
            key = keyframe_start(self.codec, payload) and packet.timestamp != layer.key_ts
            if key:
                layer.key_ts, layer.key_at = packet.timestamp, now
                layer.keyed = True
                if layer.stats.size_due():
                    layer.stats.sample_size(payload)
            elif not layer.keyed:  # its first keyframe was lost (sent before DTLS was up):
                self.request_keyframe(layer)  # stats, recording and switches need one
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
            captured = layer.clock.ntp_at(ts)
            if captured is None:  # no sender report yet: as if captured now
                captured = ntp
            for sink in sinks:
                await sink.forward(marker, seq, ts, payload, key, now, ntp, captured)
