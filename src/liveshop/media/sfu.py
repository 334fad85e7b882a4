"""The selective forwarding unit: one publisher (WHIP) per livestream, many viewers (WHEP).

Media path, per livestream::

    publisher RTCPeerConnection
      └─ RTCRtpReceiver (tapped: packets go to a Source, no jitter buffer, no decoder)
           └─ Source (video / audio): one Layer per incoming stream (simulcast: per RID)
                └─ Sink per viewer, on one layer: Rewriter (SSRC, PT, seq, timestamp, VP8
                   picture id; frame data untouched)
                     └─ viewer RTCPeerConnection transport (SRTP + UDP)

Viewers' PLI/FIR go to the publisher through a 1-per-second limiter per layer; a joining viewer
gets no video until the next keyframe, and its arrival triggers a keyframe request. Viewers'
NACKs are answered from a small per-viewer history of sent packets. A simulcast publisher
(``a=simulcast`` with RIDs) is received layer by layer and each viewer gets the layer its link
and player size allow (see :mod:`liveshop.media.source` and :mod:`liveshop.media.sink`). All
aiortc private API used here is wrapped by :mod:`liveshop.media.aiortc_internals`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
    sdp,
)
from aiortc.codecs import CODECS
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from ..domain.layers import LayerPolicy
from . import aiortc_internals as internals
from . import diskspace
from .base import EventCallback, MediaBackend, MediaError, MediaSession, Playback
from .idletrack import IdleTrack
from .negotiation import (
    PLAYOUT_DELAY_URI,
    answer_simulcast,
    check_direction,
    choose_publisher_codec,
    codec_capability,
    negotiated_streams,
    parse_offer,
    rtx_capability,
    simulcast_rids,
)
from .recording import Recorder, RecordingResult, next_segment
from .sink import Sink
from .source import Source
from .stats import layer_stats, media_stats, publisher_stats, viewer_loss
from .tasks import SessionRooms

logger = logging.getLogger(__name__)


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


@dataclass(eq=False)
class _Publisher:
    session_id: str
    pc: RTCPeerConnection
    codec: str
    sources: dict[str, Source] = field(default_factory=dict)
    recorder: Recorder | None = None
    connected: bool = False
    closed: bool = False


@dataclass(eq=False)
class _Viewer:
    session_id: str
    pc: RTCPeerConnection
    sinks: dict[str, Sink] = field(default_factory=dict)
    connected: bool = False
    closed: bool = False


@dataclass(eq=False)
class _Room:
    livestream_id: int
    publisher: _Publisher | None = None
    viewers: dict[str, _Viewer] = field(default_factory=dict)
    segments: int = 0
    recording_paused: bool = False  # a segment failed (disk full) and the next waits for room
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
        layer_policy: LayerPolicy | None = None,
    ) -> None:
        self.layer_policy = layer_policy  # the viewers' layer rule's thresholds (None: defaults)
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
        self,
        pc: RTCPeerConnection,
        offer: sdp.SessionDescription,
        text: str,
        rids: list[str] | None = None,
        viewer: bool = False,
    ) -> str:
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=text, type="offer"))
            video = next((m for m in offer.media if m.kind == "video"), None)
            for transceiver in pc.getTransceivers():
                if transceiver.kind != "video" or video is None:
                    continue
                if rids:
                    internals.accept_simulcast(transceiver, video.rtp.headerExtensions)
                if viewer:  # the sink may ask the viewer's player for more playout delay
                    internals.accept_extensions(
                        transceiver, video.rtp.headerExtensions, [PLAYOUT_DELAY_URI]
                    )
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except OperationError as exc:
            raise MediaError(415, f"no common codec with the offer: {exc}") from exc
        except (ValueError, InvalidStateError, InvalidAccessError) as exc:
            raise MediaError(400, f"unusable SDP offer: {exc}") from exc
        return _add_public_ip(answer_simulcast(pc.localDescription.sdp, rids or []), self.public_ip)

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
        rids = simulcast_rids(offer_sdp)
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
                answer = await self._negotiate(pc, offer, offer_sdp, rids)
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
                layer_rids = rids if neg.kind == "video" else None
                source = Source(publisher, neg, transceiver.receiver, self._spawn, layer_rids)
                publisher.sources[neg.kind] = source
                internals.tap_receiver(
                    transceiver.receiver,
                    source.on_rtp,
                    self._bye_handler(room, publisher, neg.kind),
                    simulcast=bool(layer_rids),
                    on_sender_report=source.on_sender_report,
                )
            old = room.publisher
            room.publisher = publisher
            if self.record:
                self._start_recording(room, publisher)
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

    # recording (segments; a full disk pauses it, see media/diskspace.py) ----------------------

    def _start_recording(self, room: _Room, publisher: _Publisher) -> None:
        """A new segment fed by ``publisher``'s packets from its next keyframe (numbered after
        any segment already on disk, so a restarted server never overwrites one)."""
        room.segments = next_segment(self._recordings_dir(room.livestream_id), room.segments)
        loop = asyncio.get_running_loop()

        def failed(exc: OSError) -> None:  # on the writer's thread
            loop.call_soon_threadsafe(self._recording_failed, room, publisher, recorder, exc)

        recorder = Recorder(
            self._recordings_dir(room.livestream_id),
            room.segments,
            publisher.codec,
            "audio" in publisher.sources,
            thumbnail_after=self.thumbnail_after,
            on_failed=failed,
        )
        publisher.recorder = recorder
        for source in publisher.sources.values():
            source.recorder = recorder

    def _recordings_dir(self, livestream_id: int) -> Path:
        return self.media_dir / "livestreams" / str(livestream_id)

    def _recording_failed(
        self, room: _Room, publisher: _Publisher, recorder: Recorder, exc: OSError
    ) -> None:
        if publisher.recorder is not recorder or publisher.closed:
            return  # the segment was being closed anyway
        publisher.recorder = None
        for source in publisher.sources.values():
            source.recorder = None
        room.recording_paused = True
        self._spawn(self._pause_recording(room, publisher, recorder, exc))

    async def _pause_recording(
        self, room: _Room, publisher: _Publisher, recorder: Recorder, exc: OSError
    ) -> None:
        """Keep what the failed segment holds, tell the seller, resume once there is room."""
        show = room.livestream_id
        result: RecordingResult = await asyncio.to_thread(recorder.join)
        self._emit_recording(show, result)
        self._emit("recording_paused", show, {"reason": diskspace.reason(exc), "detail": str(exc)})
        directory = self._recordings_dir(show)
        gone = lambda: publisher.closed or room.publisher is not publisher or self._closing  # noqa: E731
        try:
            if not await diskspace.wait_for_space(directory, gone):
                return
        finally:
            room.recording_paused = False
        self._start_recording(room, publisher)
        video = publisher.sources.get("video")
        if video is not None:
            video.request_keyframe()  # the new segment starts at a keyframe
        self._emit("recording_resumed", show, {"segment": room.segments})

    def health(self) -> dict[str, Any]:
        paused = any(room.recording_paused for room in self.rooms.values())
        return {"state": "ok", "instances": [], "recording": "paused" if paused else "ok"}

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
                if media.kind == "video":
                    prefs.append(rtx_capability())  # answered only if the viewer offers RTX
                transceiver = pc.addTransceiver(IdleTrack(media.kind), direction="sendonly")
                transceiver.setCodecPreferences(prefs)
                senders[media.kind] = transceiver
            answer = await self._negotiate(pc, offer, offer_sdp, viewer=True)
            negotiated = negotiated_streams(pc.localDescription.sdp)
            if "video" not in negotiated or "video" not in senders:
                raise MediaError(415, f"the viewer cannot receive {publisher.codec} video")
            for kind, transceiver in senders.items():
                neg = negotiated.get(kind)
                if neg is None:
                    continue
                other = "audio" if kind == "video" else "video"
                sink = Sink(
                    kind, transceiver.sender, neg, self._partner(viewer, other), self.layer_policy
                )
                internals.tap_sender_rtcp(transceiver.sender, sink.on_rtcp)
                if kind == "video":
                    sink.on_paused = self._video_state_handler(livestream_id, viewer)
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

    def _video_state_handler(self, livestream_id: int, viewer: _Viewer) -> Any:
        """Tell the app when the layer rule pauses or resumes ``viewer``'s video."""

        def on_paused(paused: bool) -> None:
            if viewer.closed:
                return
            state = "paused" if paused else "playing"
            data = {"session_id": viewer.session_id, "state": state, "reason": "bandwidth"}
            self._emit("viewer_video", livestream_id, data)

        return on_paused

    @staticmethod
    def _partner(viewer: _Viewer, kind: str) -> Any:
        return lambda: viewer.sinks.get(kind)

    async def _close_viewer(self, room: _Room, viewer: _Viewer) -> None:
        if viewer.closed:
            return
        viewer.closed = True
        room.viewers.pop(viewer.session_id, None)
        for sink in viewer.sinks.values():
            sink.close()
            if sink.source is not None:
                sink.source.detach(sink)
        await viewer.pc.close()

    # queries -----------------------------------------------------------------------------------

    def _viewer(self, livestream_id: int, session_id: str) -> _Viewer | None:
        room = self.rooms.get(livestream_id)
        return room.viewers.get(session_id) if room is not None else None

    def set_viewer_size(
        self, livestream_id: int, session_id: str, width: int | None, height: int | None
    ) -> bool:
        viewer = self._viewer(livestream_id, session_id)
        sink = viewer.sinks.get("video") if viewer is not None else None
        if sink is not None:
            sink.set_max_height(height)
        return viewer is not None

    def set_viewer_playback(self, livestream_id: int, session_id: str, playback: Playback) -> bool:
        viewer = self._viewer(livestream_id, session_id)
        sink = viewer.sinks.get("video") if viewer is not None else None
        if sink is not None:
            sink.playback = playback
        return viewer is not None

    def is_live(self, livestream_id: int) -> bool:
        room = self.rooms.get(livestream_id)
        return bool(room and room.publisher and room.publisher.connected)

    def stats(self, livestream_id: int) -> dict[str, Any]:
        room = self.rooms.get(livestream_id)
        publisher_part: dict[str, Any] | None = None
        viewers = 0
        rtts: list[float] = []
        losses: list[float] = []
        links: list[dict[str, Any]] = []
        if room is not None:
            viewers = len(room.viewers)
            publisher = room.publisher
            if publisher is not None:
                publisher_part = publisher_stats(
                    publisher.codec, {k: s.stats for k, s in publisher.sources.items()}
                )
                video = publisher.sources.get("video")
                if video is not None and video.simulcast:
                    publisher_part["layers"] = [
                        layer_stats(layer.rid or "", layer.stats)
                        for layer in video.ordered(time.monotonic())
                    ]
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
                if sink.kind == "video":
                    links.append(sink.describe())
        return media_stats(publisher_part, viewers, rtts, losses, links)
