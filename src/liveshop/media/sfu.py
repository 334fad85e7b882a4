"""The selective forwarding unit: one publisher (WHIP) per livestream, many viewers (WHEP).

Media path, per livestream::

    publisher RTCPeerConnection
      └─ RTCRtpReceiver (tapped: packets go to a _Source, no jitter buffer, no decoder)
           └─ _Source (video / audio): keyframe detection, stats, recorder queue
                └─ _Sink per viewer: Rewriter (SSRC, PT, seq, timestamp; payload untouched)
                     └─ viewer RTCPeerConnection transport (SRTP + UDP)

Viewers' PLI/FIR go to the publisher through a 1-per-second limiter; a joining viewer gets no
video until the next keyframe, and its arrival triggers a keyframe request. Viewers' NACKs are
answered from a small per-viewer history of sent packets. All aiortc private API used here is
wrapped by :mod:`liveshop.media.aiortc_internals`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
    sdp,
)
from aiortc.clock import current_ntp_time
from aiortc.codecs import CODECS
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
)

from . import aiortc_internals as internals
from .base import EventCallback, MediaBackend, MediaError, MediaSession
from .negotiation import (
    Negotiated,
    check_direction,
    choose_publisher_codec,
    codec_capability,
    negotiated_streams,
    parse_offer,
    rtx_capability,
)
from .recording import Recorder, RecordingResult, next_segment
from .rtputil import Rewriter, keyframe_start, mid_extension
from .stats import MissedShare, StreamStats, media_stats, publisher_stats, viewer_loss
from .tasks import SessionRooms

logger = logging.getLogger(__name__)

KEYFRAME_INTERVAL_S = 1.0
HISTORY = 512  # packets kept per viewer stream for NACK


# --------------------------------------------------------------------------------------------
# SDP


def _add_public_ip(answer: str, public_ip: str) -> str:
    """Duplicate each host candidate with the configured public address (1:1 NAT)."""
    if not public_ip:
        return answer
    out: list[str] = []
    for line in answer.split("\r\n"):
        out.append(line)
        if line.startswith("a=candidate:") and " typ host" in line:
            parts = line.split(" ")
            if len(parts) > 5 and ":" not in parts[4] and parts[4] != public_ip:
                parts[0] = parts[0] + "p"
                parts[4] = public_ip
                out.append(" ".join(parts))
    return "\r\n".join(out)


# --------------------------------------------------------------------------------------------
# forwarding objects


class _IdleTrack(MediaStreamTrack):
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


class _Sink:
    """One viewer's outgoing stream of one kind."""

    def __init__(self, viewer: _Viewer, kind: str, sender: RTCRtpSender, neg: Negotiated) -> None:
        self.viewer = viewer
        self.kind = kind
        self.codec = neg.codec
        self.sender = sender
        self.rewriter = Rewriter(
            internals.sender_ssrc(sender),
            neg.pt,
            neg.clock_rate,
            mid_extension(neg.mid_ext_id, neg.mid),
        )
        self.send = internals.rtp_sink(sender)
        self.history: list[bytes | None] = [None] * HISTORY
        self.missed = MissedShare()
        self.source: _Source | None = None
        self.failed = False

    async def forward(
        self, marker: int, seq: int, ts: int, payload: bytes, key: bool, now: float, ntp: int
    ) -> None:
        rw = self.rewriter
        if not rw.synced:
            if self.kind == "video" and not key:
                return
            rw.sync(seq, ts, now)
        data = rw.rewrite(marker, seq, ts, payload, now)
        self.history[rw.last_seq % HISTORY if rw.last_seq is not None else 0] = data
        try:
            await self.send(data)
        except ConnectionError:
            return
        internals.record_sent(self.sender, ntp, rw.last_ts, rw.packets, rw.octets)

    async def on_rtcp(self, packet: Any) -> bool:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            if self.source is not None:
                self.source.request_keyframe()
            return True
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            for seq in packet.lost:
                self.missed.missed(seq)
                data = self.history[seq % HISTORY]
                if data is not None and int.from_bytes(data[2:4], "big") == seq:
                    with contextlib.suppress(ConnectionError):
                        await self.send(data)
            return True
        return False


class _Source:
    """One incoming track of the publisher; fans packets out to the sinks."""

    def __init__(
        self,
        backend: SfuMediaBackend,
        publisher: _Publisher,
        neg: Negotiated,
        receiver: RTCRtpReceiver,
    ) -> None:
        self.backend = backend
        self.publisher = publisher
        self.kind = neg.kind
        self.codec = neg.codec
        self.clock_rate = neg.clock_rate
        self.pt = neg.pt
        self.rtx = neg.rtx
        self.receiver = receiver
        self.sinks: tuple[_Sink, ...] = ()
        self.recorder: Recorder | None = None
        self.ssrc: int | None = None
        # keyframe requests
        self.last_pli = -10.0
        self.pli_pending: asyncio.TimerHandle | None = None
        self.stats = StreamStats(neg.codec)

    # sinks -------------------------------------------------------------------------------------

    def attach(self, sink: _Sink) -> None:
        if sink not in self.sinks:
            sink.source = self
            sink.rewriter.rebase()
            self.sinks = (*self.sinks, sink)
            if self.kind == "video":
                self.request_keyframe()

    def detach(self, sink: _Sink) -> None:
        self.sinks = tuple(s for s in self.sinks if s is not sink)
        if sink.source is self:
            sink.source = None

    # keyframes ---------------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per KEYFRAME_INTERVAL_S."""
        if self.kind != "video" or self.publisher.closed:
            return
        now = time.monotonic()
        wait = self.last_pli + KEYFRAME_INTERVAL_S - now
        if wait <= 0:
            self.last_pli = now
            if self.ssrc is not None:
                self.backend._spawn(internals.send_pli(self.receiver, self.ssrc))
        elif self.pli_pending is None:
            self.pli_pending = asyncio.get_running_loop().call_later(wait, self._deferred_pli)

    def _deferred_pli(self) -> None:
        self.pli_pending = None
        self.request_keyframe()

    def cancel(self) -> None:
        if self.pli_pending is not None:
            self.pli_pending.cancel()
            self.pli_pending = None

    # packets -----------------------------------------------------------------------------------

    async def on_rtp(self, packet: RtpPacket) -> None:
        pt = packet.payload_type
        payload = packet.payload
        if pt == self.pt:
            seq = packet.sequence_number
            if self.ssrc != packet.ssrc:
                self.ssrc = packet.ssrc
                self.stats.restart()
            self.stats.count(seq, len(payload), packet.marker)
        elif pt in self.rtx:
            if len(payload) < 2 or self.ssrc is None:
                return
            seq = int.from_bytes(payload[:2], "big")
            payload = payload[2:]
        else:
            return
        if not payload:
            return
        key = False
        if self.kind == "video":
            key = keyframe_start(self.codec, payload)
            if key and self.stats.size_due():
                self.stats.sample_size(payload)
        if self.recorder is not None:
            self.recorder.put(self.kind, seq, packet.timestamp, bool(packet.marker), payload)
        sinks = self.sinks
        if sinks:
            now = time.monotonic()
            ntp = current_ntp_time()
            marker = packet.marker
            ts = packet.timestamp
            for sink in sinks:
                await sink.forward(marker, seq, ts, payload, key, now, ntp)


@dataclass(eq=False)
class _Publisher:
    session_id: str
    pc: RTCPeerConnection
    codec: str
    sources: dict[str, _Source] = field(default_factory=dict)
    recorder: Recorder | None = None
    connected: bool = False
    closed: bool = False


@dataclass(eq=False)
class _Viewer:
    session_id: str
    pc: RTCPeerConnection
    sinks: dict[str, _Sink] = field(default_factory=dict)
    connected: bool = False
    closed: bool = False


@dataclass(eq=False)
class _Room:
    livestream_id: int
    publisher: _Publisher | None = None
    viewers: dict[str, _Viewer] = field(default_factory=dict)
    segments: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# --------------------------------------------------------------------------------------------


class SfuMediaBackend(SessionRooms, MediaBackend):
    """Forwards the publisher's RTP packets to every viewer without decoding (see module doc)."""

    mode = "sfu"

    def __init__(
        self,
        *,
        media_dir: Path,
        ice_servers: list[dict[str, Any]],
        public_ip: str,
        on_event: EventCallback,
        record: bool = True,
        thumbnail_after: float = 3.0,
    ) -> None:
        super().__init__(
            media_dir=media_dir,
            ice_servers=ice_servers,
            on_event=on_event,
            record=record,
            thumbnail_after=thumbnail_after,
        )
        self.public_ip = public_ip
        self.rooms: dict[int, _Room] = {}

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        internals.prepare()

    async def close(self) -> None:
        self._closing = True
        for livestream_id in list(self.rooms):
            await self.end_show(livestream_id)
        await self._finish_all()

    def _room(self, livestream_id: int) -> _Room:
        room = self.rooms.get(livestream_id)
        if room is None:
            room = self.rooms[livestream_id] = _Room(livestream_id)
        return room

    def _new_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))

    async def _negotiate(
        self, pc: RTCPeerConnection, offer: sdp.SessionDescription, text: str
    ) -> str:
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=text, type="offer"))
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except OperationError as exc:
            raise MediaError(415, f"no common codec with the offer: {exc}") from exc
        except (ValueError, InvalidStateError, InvalidAccessError) as exc:
            raise MediaError(400, f"unusable SDP offer: {exc}") from exc
        return _add_public_ip(pc.localDescription.sdp, self.public_ip)

    # publish -----------------------------------------------------------------------------------

    async def publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        offer = parse_offer(offer_sdp)
        for media in offer.media:
            check_direction(media, "publisher")
        chosen = {m.kind: choose_publisher_codec(m) for m in offer.media}
        room = self._room(livestream_id)
        async with room.lock:
            if room.publisher is not None and not replace:
                raise MediaError(409, "this livestream already has a publisher")
            pc = self._new_pc()
            try:
                for kind, codec in chosen.items():
                    transceiver = pc.addTransceiver(kind, direction="recvonly")
                    prefs = [codec_capability(codec)]
                    if kind == "video":
                        prefs.append(rtx_capability())
                    transceiver.setCodecPreferences(prefs)
                answer = await self._negotiate(pc, offer, offer_sdp)
                negotiated = negotiated_streams(pc.localDescription.sdp)
                if "video" not in negotiated:
                    raise MediaError(422, "no video could be negotiated")
            except BaseException:
                await pc.close()
                raise
            publisher = _Publisher(
                session_id=secrets.token_urlsafe(12), pc=pc, codec=negotiated["video"].codec
            )
            for transceiver in pc.getTransceivers():
                neg = negotiated.get(transceiver.kind)
                if neg is None:
                    continue
                source = _Source(self, publisher, neg, transceiver.receiver)
                publisher.sources[neg.kind] = source
                internals.tap_receiver(
                    transceiver.receiver,
                    source.on_rtp,
                    self._bye_handler(room, publisher, neg.kind),
                )
            old = room.publisher
            room.publisher = publisher
            if self.record:
                directory = self.media_dir / "livestreams" / str(livestream_id)
                room.segments = next_segment(directory, room.segments)
                recorder = Recorder(
                    directory,
                    room.segments,
                    publisher.codec,
                    "audio" in publisher.sources,
                    thumbnail_after=self.thumbnail_after,
                )
                publisher.recorder = recorder
                for source in publisher.sources.values():
                    source.recorder = recorder
            if old is not None:
                self._move_viewers(room, old, publisher)
                self._spawn(self._close_publisher(room, old, "replaced", notify=False))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and not publisher.connected and not publisher.closed:
                publisher.connected = True
                video = publisher.sources.get("video")
                if video is not None and video.sinks:
                    video.request_keyframe()
                self._emit(
                    "publisher_connected",
                    livestream_id,
                    {"session_id": publisher.session_id, "codec": publisher.codec},
                )
            elif state in ("failed", "closed") and not publisher.closed:
                self._spawn(self._close_publisher(room, publisher, state))

        return MediaSession(session_id=publisher.session_id, answer_sdp=answer)

    def _bye_handler(self, room: _Room, publisher: _Publisher, kind: str) -> Any:
        def on_bye() -> None:
            if kind == "video" and not publisher.closed:
                self._spawn(self._close_publisher(room, publisher, "bye"))

        return on_bye

    def _move_viewers(self, room: _Room, old: _Publisher, new: _Publisher) -> None:
        for viewer in list(room.viewers.values()):
            if "video" in viewer.sinks and viewer.sinks["video"].codec != new.codec:
                self._spawn(self._close_viewer(room, viewer))
                continue
            for kind, sink in viewer.sinks.items():
                if sink.source is not None:
                    sink.source.detach(sink)
                source = new.sources.get(kind)
                if source is not None and viewer.connected:
                    source.attach(sink)

    async def _close_publisher(
        self, room: _Room, publisher: _Publisher, reason: str, notify: bool = True
    ) -> None:
        if publisher.closed:
            return
        publisher.closed = True
        current = room.publisher is publisher
        if current:
            room.publisher = None
        for source in publisher.sources.values():
            source.cancel()
            source.recorder = None
            if current:
                for sink in source.sinks:
                    source.detach(sink)
        if current:
            for viewer in list(room.viewers.values()):
                await self._close_viewer(room, viewer)
        await publisher.pc.close()
        if notify or current:
            self._emit(
                "publisher_left",
                room.livestream_id,
                {"session_id": publisher.session_id, "reason": reason},
            )
        if publisher.recorder is not None:
            result: RecordingResult = await asyncio.to_thread(publisher.recorder.join)
            self._emit_recording(room.livestream_id, result)

    # watch -------------------------------------------------------------------------------------

    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        offer = parse_offer(offer_sdp)
        for media in offer.media:
            check_direction(media, "viewer")
        room = self.rooms.get(livestream_id)
        publisher = room.publisher if room is not None else None
        if room is None or publisher is None or not publisher.connected:
            raise MediaError(409, "not live")
        pc = self._new_pc()
        viewer = _Viewer(session_id=secrets.token_urlsafe(12), pc=pc)
        try:
            senders: dict[str, RTCRtpTransceiver] = {}
            for media in offer.media:
                source = publisher.sources.get(media.kind)
                if source is None:
                    continue
                prefs = [
                    codec_capability(c)
                    for c in CODECS[media.kind]
                    if c.name == source.codec and c.name.lower() != "rtx"
                ]
                transceiver = pc.addTransceiver(_IdleTrack(media.kind), direction="sendonly")
                transceiver.setCodecPreferences(prefs)
                senders[media.kind] = transceiver
            answer = await self._negotiate(pc, offer, offer_sdp)
            negotiated = negotiated_streams(pc.localDescription.sdp)
            if "video" not in negotiated or "video" not in senders:
                raise MediaError(415, f"the viewer cannot receive {publisher.codec} video")
            for kind, transceiver in senders.items():
                neg = negotiated.get(kind)
                if neg is None:
                    continue
                sink = _Sink(viewer, kind, transceiver.sender, neg)
                internals.tap_sender_rtcp(transceiver.sender, sink.on_rtcp)
                viewer.sinks[kind] = sink
            if room.publisher is not publisher or publisher.closed:
                raise MediaError(409, "not live: the publisher left")
        except BaseException:
            await pc.close()
            raise
        room.viewers[viewer.session_id] = viewer

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and not viewer.connected and not viewer.closed:
                viewer.connected = True
                current = room.publisher
                if current is None:
                    self._spawn(self._close_viewer(room, viewer))
                    return
                for kind, sink in viewer.sinks.items():
                    source = current.sources.get(kind)
                    if source is not None:
                        source.attach(sink)
            elif state in ("failed", "closed") and not viewer.closed:
                self._spawn(self._close_viewer(room, viewer))

        return MediaSession(session_id=viewer.session_id, answer_sdp=answer)

    async def _close_viewer(self, room: _Room, viewer: _Viewer) -> None:
        if viewer.closed:
            return
        viewer.closed = True
        room.viewers.pop(viewer.session_id, None)
        for sink in viewer.sinks.values():
            if sink.source is not None:
                sink.source.detach(sink)
        await viewer.pc.close()

    # queries -----------------------------------------------------------------------------------

    def is_live(self, livestream_id: int) -> bool:
        room = self.rooms.get(livestream_id)
        return bool(room and room.publisher and room.publisher.connected)

    def stats(self, livestream_id: int) -> dict[str, Any]:
        room = self.rooms.get(livestream_id)
        publisher_part: dict[str, Any] | None = None
        viewers = 0
        rtts: list[float] = []
        losses: list[float] = []
        if room is not None:
            viewers = len(room.viewers)
            publisher = room.publisher
            if publisher is not None:
                publisher_part = publisher_stats(
                    publisher.codec, {k: s.stats for k, s in publisher.sources.items()}
                )
            for viewer in room.viewers.values():
                sink = viewer.sinks.get("video") or viewer.sinks.get("audio")
                if sink is None:
                    continue
                rtt = internals.sender_rtt(sink.sender)
                if rtt is not None:
                    rtts.append(rtt * 1000)
                loss = viewer_loss(
                    internals.sender_fraction_lost(sink.sender),
                    sink.missed.share(sink.rewriter.packets),
                )
                if loss is not None:
                    losses.append(loss * 100)
        return media_stats(publisher_part, viewers, rtts, losses)
