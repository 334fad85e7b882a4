"""The ``janus`` media mode: liveshop keeps WHIP/WHEP, auth and the show; Janus moves the media.

Per show, one VideoRoom room (room id = livestream id) on every instance that carries it:

* **Publisher** (WHIP): lands on the *origin* instance (the up instance with the fewest
  publishers, then the fewest subscribers). liveshop attaches a handle and sends
  ``joinandconfigure`` (``ptype=publisher``) with the WHIP offer; Janus's answer (half trickle:
  its candidates are in the SDP) is the WHIP answer. ``webrtcup`` → ``publisher_connected``.
* **Viewers** (WHEP): placed on the up instance with the fewest subscribers (ties: the order of
  ``LIVESHOP_JANUS_URLS``) under a per-instance cap. On an instance other than the origin the
  publisher is first made available there: ``add_remote_publisher`` on that instance, then
  ``publish_remotely`` on the origin with the returned port (VideoRoom's own RTP forwarding,
  once per show and instance). The viewer's offer is bridged to VideoRoom's server-side offer,
  see :mod:`liveshop.media.janus.sdp`.
* **Monitor** (stats + recording): liveshop itself subscribes once to the publisher on the
  origin with an aiortc peer whose receivers are tapped (no decoding, as in the ``sfu`` mode);
  the packets feed the same :class:`~liveshop.media.recording.Recorder` as the built-in mode
  (``recording.webm`` / ``.mkv`` + ``thumbnail.jpg``) and the publisher stats.
* **Failures**: each instance has one Janus session with a long poll and keep-alives. When an
  instance goes away (process gone, or "no such session" after a restart), its viewers are
  dropped (Janus hangs up their PeerConnections when it stops; a killed Janus cannot), a show
  whose origin it was ends with ``publisher_left`` (reason ``janus_down``) and its viewers on
  other instances are hung up; liveshop reconnects every :data:`RECONNECT_S` seconds and
  places new sessions on the instances that are up.

Placement (which instance holds which show and viewer) is kept in memory in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.rtp import RtpPacket

from .. import aiortc_internals as internals
from ..base import EventCallback, MediaBackend, MediaError, MediaSession
from ..recording import Recorder, RecordingResult
from ..rtputil import H264, VP8, keyframe_start, picture_size
from ..sfu import _choose_publisher_codec, _negotiated, _parse_offer, _percentile
from ..tasks import SessionRooms
from .admin import JanusAdmin, Target, ViewerRtts
from .client import JanusError, JanusGone, JanusSession
from .sdp import bridge

logger = logging.getLogger(__name__)

RECONNECT_S = 2.0
DEFAULT_MAX_VIEWERS = 500
ROOM_PUBLISHERS = 4  # the publisher, a replacing publisher, remote copies
_CODECS = {"vp8": VP8, "h264": H264}

Handler = Callable[[dict[str, Any]], None]


# --------------------------------------------------------------------------------------------
# state


@dataclass(eq=False)
class _Instance:
    index: int
    url: str
    session: JanusSession | None = None
    control: int | None = None  # handle for room management requests
    up: bool = False
    handles: dict[int, Handler] = field(default_factory=dict)
    subscribers: int = 0  # viewers + monitors placed here
    publishers: int = 0
    reconnect: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # set while up
    down: asyncio.Event = field(default_factory=asyncio.Event)  # set once lost, until up again

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    def live_session(self) -> JanusSession:
        if not self.up or self.session is None or self.session.lost:
            raise JanusGone(0, f"Janus {self.url} is down")
        return self.session


class _Tap:
    """Counts one monitored stream (bitrate, fps, size, loss) and feeds the recorder."""

    def __init__(self, kind: str, codec: str, pt: int) -> None:
        self.kind = kind
        self.codec = codec
        self.pt = pt
        self.recorder: Recorder | None = None
        self.packets = 0
        self.base_seq: int | None = None
        self.ext_max: int | None = None
        self.size: tuple[int, int] | None = None
        self.win_start = time.monotonic()
        self.win_bytes = 0
        self.win_frames = 0
        self.bitrate_kbps = 0.0
        self.fps = 0.0
        self.first_packet = asyncio.Event()

    async def on_rtp(self, packet: RtpPacket) -> None:
        if packet.payload_type != self.pt or not packet.payload:
            return
        payload = packet.payload
        seq = packet.sequence_number
        if not self.packets:
            self.first_packet.set()
        self.packets += 1
        if self.base_seq is None or self.ext_max is None:
            self.base_seq = self.ext_max = seq
        else:
            delta = (seq - self.ext_max) & 0xFFFF
            if delta < 0x8000:
                self.ext_max += delta
        self.win_bytes += len(payload)
        if packet.marker:
            self.win_frames += 1
        now = time.monotonic()
        if now - self.win_start >= 1.0:
            self.bitrate_kbps = self.win_bytes * 8 / (now - self.win_start) / 1000
            self.fps = self.win_frames / (now - self.win_start)
            self.win_start, self.win_bytes, self.win_frames = now, 0, 0
        sample = self.size is None or self.packets % 64 == 0
        if self.kind == "video" and sample and keyframe_start(self.codec, payload):
            self.size = picture_size(self.codec, payload) or self.size
        if self.recorder is not None:
            self.recorder.put(self.kind, seq, packet.timestamp, bool(packet.marker), payload)

    def lost(self) -> int:
        if self.base_seq is None or self.ext_max is None:
            return 0
        return max(0, self.ext_max - self.base_seq + 1 - self.packets)


@dataclass(eq=False)
class _Monitor:
    instance: _Instance
    handle: int
    pc: RTCPeerConnection
    taps: dict[str, _Tap] = field(default_factory=dict)
    recorder: Recorder | None = None
    closed: bool = False


@dataclass(eq=False)
class _Publisher:
    session_id: str
    instance: _Instance
    handle: int
    feed: int
    codec: str
    streams: list[dict[str, Any]]
    connected: bool = False
    closed: bool = False
    monitor: _Monitor | None = None
    starting: asyncio.Task[None] | None = None


@dataclass(eq=False)
class _Viewer:
    session_id: str
    instance: _Instance
    handle: int
    closed: bool = False


@dataclass(eq=False)
class _Remote:
    """The show's publisher re-published on another instance."""

    instance: _Instance
    publisher: _Publisher
    remote_id: str


@dataclass(eq=False)
class _Room:
    livestream_id: int
    publisher: _Publisher | None = None
    viewers: dict[str, _Viewer] = field(default_factory=dict)
    remotes: dict[int, _Remote] = field(default_factory=dict)
    created_on: set[int] = field(default_factory=set)
    segments: int = 0
    next_feed: int = 1
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    remote_locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    @property
    def janus_room(self) -> int:
        return self.livestream_id


# --------------------------------------------------------------------------------------------


class JanusMediaBackend(SessionRooms, MediaBackend):
    """Drives one or more Janus VideoRoom instances over the HTTP API (see module doc)."""

    mode = "janus"

    def __init__(
        self,
        *,
        janus_urls: list[str],
        media_dir: Path,
        ice_servers: list[dict[str, Any]],
        on_event: EventCallback,
        api_secret: str = "",
        admin_secret: str = "",
        admin_urls: Sequence[str] = (),
        admin_api_secret: str = "",
        max_viewers_per_instance: int = DEFAULT_MAX_VIEWERS,
        record: bool = True,
        thumbnail_after: float = 3.0,
    ) -> None:
        urls = [u.rstrip("/") for u in janus_urls if u.strip()]
        if not urls:
            raise ValueError("the janus media mode needs LIVESHOP_JANUS_URLS")
        self.instances = [_Instance(i, url) for i, url in enumerate(urls)]
        admin_list = [u.strip() for u in admin_urls]
        if len(admin_list) > len(urls):
            raise ValueError("more LIVESHOP_JANUS_ADMIN_URLS than LIVESHOP_JANUS_URLS")
        # Admin API per instance (same order; none: no viewer RTT from that instance)
        self.admins: list[JanusAdmin | None] = [
            JanusAdmin(u, admin_api_secret) if u else None for u in admin_list
        ] + [None] * (len(urls) - len(admin_list))
        self.viewer_rtts = ViewerRtts()
        super().__init__(
            media_dir=media_dir,
            ice_servers=ice_servers,
            on_event=on_event,
            record=record,
            thumbnail_after=thumbnail_after,
        )
        self.api_secret = api_secret
        self.admin_secret = admin_secret
        self.max_viewers = max_viewers_per_instance
        self.rooms: dict[int, _Room] = {}

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        internals.prepare()
        await asyncio.gather(*(self._connect_or_retry(inst) for inst in self.instances))

    async def close(self) -> None:
        self._closing = True
        for livestream_id in list(self.rooms):
            await self.end_show(livestream_id)
        for inst in self.instances:
            if inst.reconnect is not None:
                inst.reconnect.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await inst.reconnect
                inst.reconnect = None
        await self._finish_all()
        await self.viewer_rtts.close()
        for admin in self.admins:
            if admin is not None:
                await admin.close()
        for inst in self.instances:
            session, inst.session, inst.up = inst.session, None, False
            if session is not None:
                await session.close()

    async def _connect(self, inst: _Instance) -> None:
        session = JanusSession(
            inst.url,
            api_secret=self.api_secret,
            on_event=lambda handle, event: self._on_janus_event(inst, handle, event),
            on_lost=lambda: self._on_lost(inst, session),
        )
        try:
            await session.start()
            inst.control = await session.attach()
        except BaseException:
            await session.close()
            raise
        inst.session = session
        inst.handles = {}
        inst.subscribers = inst.publishers = 0
        inst.up = True
        inst.ready.set()
        inst.down.clear()
        logger.info("Janus %s connected (session %s)", inst.url, session.session_id)

    async def _connect_or_retry(self, inst: _Instance) -> None:
        try:
            await self._connect(inst)
        except JanusError as exc:
            logger.warning("Janus %s unavailable: %s; retrying", inst.url, exc)
            self._schedule_reconnect(inst)

    def _schedule_reconnect(self, inst: _Instance) -> None:
        if self._closing or (inst.reconnect is not None and not inst.reconnect.done()):
            return
        inst.reconnect = asyncio.create_task(self._reconnect(inst), name=f"janus-{inst.index}")

    async def _reconnect(self, inst: _Instance) -> None:
        while not self._closing and not inst.up:
            await asyncio.sleep(RECONNECT_S)
            with contextlib.suppress(JanusError):
                await self._connect(inst)

    def _room(self, livestream_id: int) -> _Room:
        room = self.rooms.get(livestream_id)
        if room is None:
            room = self.rooms[livestream_id] = _Room(livestream_id)
        return room

    # Janus events ------------------------------------------------------------------------------

    def _on_janus_event(self, inst: _Instance, handle: int, event: dict[str, Any]) -> None:
        handler = inst.handles.get(handle)
        if handler is not None:
            handler(event)

    async def _on_lost(self, inst: _Instance, session: JanusSession) -> None:
        if inst.session is not session:
            return
        logger.warning("Janus %s went away; ending its sessions", inst.url)
        inst.up = False
        inst.ready.clear()
        inst.down.set()
        inst.session = None
        inst.control = None
        inst.handles = {}
        inst.subscribers = inst.publishers = 0
        for room in list(self.rooms.values()):
            room.created_on.discard(inst.index)
            publisher = room.publisher
            if publisher is not None and publisher.instance is inst:
                self._spawn(self._close_publisher(room, publisher, "janus_down"))
            for viewer in list(room.viewers.values()):
                if viewer.instance is inst:
                    viewer.closed = True
                    room.viewers.pop(viewer.session_id, None)
            remote = room.remotes.pop(inst.index, None)
            if remote is not None and publisher is not None and not publisher.closed:
                self._spawn(self._unpublish_remotely(room, remote))
        self._spawn(session.close())
        self._schedule_reconnect(inst)

    # rooms -------------------------------------------------------------------------------------

    def _admin(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.admin_secret:
            body["admin_key"] = self.admin_secret
        return body

    async def _ensure_room(self, room: _Room, inst: _Instance) -> None:
        if inst.index in room.created_on:
            return
        session = inst.live_session()
        assert inst.control is not None
        create = self._admin(
            {
                "request": "create",
                "room": room.janus_room,
                "description": f"liveshop show {room.livestream_id}",
                "publishers": ROOM_PUBLISHERS,
                "videocodec": "vp8,h264",
                "audiocodec": "opus",
                "notify_joining": False,
                "permanent": False,
            }
        )
        try:
            await session.request(inst.control, create)
        except JanusError as exc:
            if exc.code != 427:  # 427: the room exists (left over by an earlier liveshop run)
                raise
            destroy = self._admin({"request": "destroy", "room": room.janus_room})
            await session.request(inst.control, destroy)
            await session.request(inst.control, create)
        room.created_on.add(inst.index)

    async def _destroy_room(self, room: _Room, inst: _Instance) -> None:
        if inst.index not in room.created_on or not inst.up or inst.control is None:
            return
        room.created_on.discard(inst.index)
        with contextlib.suppress(JanusError):
            await inst.live_session().request(
                inst.control, self._admin({"request": "destroy", "room": room.janus_room})
            )

    def _origin_for(self, room: _Room) -> _Instance:
        up = [inst for inst in self.instances if inst.up]
        if not up:
            raise MediaError(503, "no Janus media server is reachable")
        return min(up, key=lambda i: (i.publishers, i.subscribers, i.index))

    def _place_viewer(self) -> _Instance:
        up = [inst for inst in self.instances if inst.up]
        if not up:
            raise MediaError(503, "no Janus media server is reachable")
        free = [inst for inst in up if inst.subscribers < self.max_viewers]
        if not free:
            raise MediaError(503, "all Janus media servers are full")
        return min(free, key=lambda i: (i.subscribers, i.index))

    # publish -----------------------------------------------------------------------------------

    async def publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        offer = _parse_offer(offer_sdp)
        for media in offer.media:
            if media.direction not in (None, "sendonly", "sendrecv"):
                raise MediaError(400, f"publisher {media.kind} must be sendonly")
            _choose_publisher_codec(media)  # 415 before Janus is involved
        room = self._room(livestream_id)
        async with room.lock:
            old = room.publisher
            if old is not None and not old.closed and not replace:
                raise MediaError(409, "this livestream already has a publisher")
            if old is not None:
                await self._close_publisher(room, old, "replaced", notify=False)
            inst = self._origin_for(room)
            try:
                session = inst.live_session()
                await self._ensure_room(room, inst)
                handle = await session.attach()
            except JanusError as exc:
                raise MediaError(503, f"Janus media server error: {exc}") from exc
            feed = room.next_feed
            room.next_feed += 1
            publisher = _Publisher(
                session_id=secrets.token_urlsafe(12),
                instance=inst,
                handle=handle,
                feed=feed,
                codec="",
                streams=[],
            )
            inst.handles[handle] = self._publisher_handler(room, publisher)
            try:
                data, jsep = await session.message(
                    handle,
                    {
                        "request": "joinandconfigure",
                        "ptype": "publisher",
                        "room": room.janus_room,
                        "id": feed,
                        "display": f"liveshop-{livestream_id}",
                    },
                    {"type": "offer", "sdp": offer_sdp},
                )
                if jsep is None or jsep.get("type") != "answer":
                    raise JanusError(0, "Janus did not answer the offer")
            except JanusError as exc:
                inst.handles.pop(handle, None)
                with contextlib.suppress(JanusError):
                    await session.detach(handle)
                raise _media_error(exc) from exc
            publisher.codec = _CODECS.get(str(data.get("video_codec", "")).lower(), "")
            publisher.streams = [
                {k: s[k] for k in ("type", "mindex", "mid", "codec") if k in s}
                for s in data.get("streams", [])
                if s.get("type") in ("audio", "video") and not s.get("disabled")
            ]
            if not publisher.codec:
                inst.handles.pop(handle, None)
                await session.detach(handle)
                raise MediaError(415, "Janus accepted no VP8/H.264 video from the offer")
            inst.publishers += 1
            room.publisher = publisher
        return MediaSession(session_id=publisher.session_id, answer_sdp=str(jsep["sdp"]))

    def _publisher_handler(self, room: _Room, publisher: _Publisher) -> Handler:
        def handle(event: dict[str, Any]) -> None:
            kind = event.get("janus")
            if kind == "webrtcup" and not publisher.connected and not publisher.closed:
                publisher.connected = True
                self._emit(
                    "publisher_connected",
                    room.livestream_id,
                    {"session_id": publisher.session_id, "codec": publisher.codec},
                )
                publisher.starting = asyncio.ensure_future(self._start_monitor(room, publisher))
            elif kind in ("hangup", "detached") and not publisher.closed:
                self._spawn(self._close_publisher(room, publisher, "hangup"))

        return handle

    async def _close_publisher(
        self, room: _Room, publisher: _Publisher, reason: str, notify: bool = True
    ) -> None:
        if publisher.closed:
            return
        publisher.closed = True
        current = room.publisher is publisher
        if current:
            room.publisher = None
        inst = publisher.instance
        inst.handles.pop(publisher.handle, None)
        if inst.up:
            inst.publishers = max(0, inst.publishers - 1)
        # viewers first (they are hung up by detaching their handles), then the remote copies
        if current:
            for viewer in list(room.viewers.values()):
                await self._close_viewer(room, viewer)
        for index, remote in list(room.remotes.items()):
            if remote.publisher is publisher:
                room.remotes.pop(index, None)
                await self._remove_remote(room, remote)
        if inst.up and inst.session is not None:
            with contextlib.suppress(JanusError):
                await inst.session.detach(publisher.handle)
        if notify:
            self._emit(
                "publisher_left",
                room.livestream_id,
                {"session_id": publisher.session_id, "reason": reason},
            )
        if publisher.starting is not None:
            with contextlib.suppress(Exception):
                await publisher.starting
        if publisher.monitor is not None:
            await self._close_monitor(room, publisher.monitor)

    # remote publishers -------------------------------------------------------------------------

    async def _ensure_remote(self, room: _Room, publisher: _Publisher, inst: _Instance) -> None:
        """Make the publisher (on its origin) available on ``inst`` (VideoRoom remotization)."""
        if inst is publisher.instance:
            return
        lock = room.remote_locks.setdefault(inst.index, asyncio.Lock())
        async with lock:
            remote = room.remotes.get(inst.index)
            if remote is not None and remote.publisher is publisher:
                return
            origin = publisher.instance
            origin_session = origin.live_session()
            session = inst.live_session()
            assert inst.control is not None and origin.control is not None
            await self._ensure_room(room, inst)
            added = await session.request(
                inst.control,
                self._admin(
                    {
                        "request": "add_remote_publisher",
                        "room": room.janus_room,
                        "id": publisher.feed,
                        "display": f"liveshop-{room.livestream_id}",
                        "streams": publisher.streams,
                    }
                ),
            )
            host = str(added.get("ip") or "")
            if not host or host in ("0.0.0.0", "::"):
                host = inst.host
            remote_id = f"liveshop-{inst.index}-{publisher.feed}"
            remote = _Remote(inst, publisher, remote_id)
            try:
                forward: dict[str, Any] = {
                    "request": "publish_remotely",
                    "room": room.janus_room,
                    "publisher_id": publisher.feed,
                    "remote_id": remote_id,
                    "host": host,
                    "port": int(added["port"]),
                }
                if added.get("rtcp_port"):
                    forward["rtcp_port"] = int(added["rtcp_port"])
                await origin_session.request(origin.control, self._admin(forward))
            except BaseException:
                await self._remove_remote(room, remote, unpublish=False)
                raise
            room.remotes[inst.index] = remote
            logger.info(
                "show %s: publisher %s forwarded from %s to %s (%s:%s)",
                room.livestream_id,
                publisher.feed,
                origin.url,
                inst.url,
                host,
                added["port"],
            )

    async def _unpublish_remotely(self, room: _Room, remote: _Remote) -> None:
        origin = remote.publisher.instance
        if not origin.up or origin.session is None or origin.control is None:
            return
        with contextlib.suppress(JanusError):
            await origin.session.request(
                origin.control,
                self._admin(
                    {
                        "request": "unpublish_remotely",
                        "room": room.janus_room,
                        "publisher_id": remote.publisher.feed,
                        "remote_id": remote.remote_id,
                    }
                ),
            )

    async def _remove_remote(self, room: _Room, remote: _Remote, unpublish: bool = True) -> None:
        if unpublish:
            await self._unpublish_remotely(room, remote)
        inst = remote.instance
        if inst.up and inst.session is not None and inst.control is not None:
            with contextlib.suppress(JanusError):
                await inst.session.request(
                    inst.control,
                    self._admin(
                        {
                            "request": "remove_remote_publisher",
                            "room": room.janus_room,
                            "id": remote.publisher.feed,
                        }
                    ),
                )

    # watch -------------------------------------------------------------------------------------

    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        offer = _parse_offer(offer_sdp)
        for media in offer.media:
            if media.direction not in (None, "recvonly", "sendrecv"):
                raise MediaError(400, f"viewer {media.kind} must be recvonly")
        room = self.rooms.get(livestream_id)
        publisher = room.publisher if room is not None else None
        if room is None or publisher is None or not publisher.connected or publisher.closed:
            raise MediaError(409, "not live")
        inst = self._place_viewer()
        inst.subscribers += 1  # reserve the slot while negotiating
        handle: int | None = None
        session: JanusSession | None = None
        try:
            await self._ensure_remote(room, publisher, inst)
            session = inst.live_session()
            handle = await session.attach()
            _, jsep = await session.message(
                handle,
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": room.janus_room,
                    "streams": [{"feed": publisher.feed}],
                },
            )
            if jsep is None or jsep.get("type") != "offer":
                raise JanusError(0, "Janus sent no subscriber offer")
            answers = bridge(offer_sdp, str(jsep["sdp"]))
            await session.message(
                handle, {"request": "start"}, {"type": "answer", "sdp": answers.janus_answer}
            )
            if room.publisher is not publisher or publisher.closed:
                raise MediaError(409, "not live: the publisher left")
        except BaseException as exc:
            if inst.up:
                inst.subscribers = max(0, inst.subscribers - 1)
            if handle is not None and session is not None:
                with contextlib.suppress(JanusError):
                    await session.detach(handle)
            if isinstance(exc, JanusError):
                raise _media_error(exc) from exc
            raise
        viewer = _Viewer(session_id=secrets.token_urlsafe(12), instance=inst, handle=handle)
        room.viewers[viewer.session_id] = viewer
        inst.handles[handle] = self._viewer_handler(room, viewer)
        return MediaSession(session_id=viewer.session_id, answer_sdp=answers.viewer_answer)

    def _viewer_handler(self, room: _Room, viewer: _Viewer) -> Handler:
        def handle(event: dict[str, Any]) -> None:
            if event.get("janus") in ("hangup", "detached") and not viewer.closed:
                self._spawn(self._close_viewer(room, viewer))

        return handle

    async def _close_viewer(self, room: _Room, viewer: _Viewer) -> None:
        if viewer.closed:
            return
        viewer.closed = True
        room.viewers.pop(viewer.session_id, None)
        inst = viewer.instance
        inst.handles.pop(viewer.handle, None)
        if inst.up and inst.session is not None:
            inst.subscribers = max(0, inst.subscribers - 1)
            with contextlib.suppress(JanusError):
                await inst.session.detach(viewer.handle)

    # monitor: stats + recording ----------------------------------------------------------------

    async def _start_monitor(self, room: _Room, publisher: _Publisher) -> None:
        inst = publisher.instance
        try:
            session = inst.live_session()
            handle = await session.attach()
        except JanusError as exc:
            logger.warning("show %s: no monitor (%s)", room.livestream_id, exc)
            return
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        monitor = _Monitor(instance=inst, handle=handle, pc=pc)
        publisher.monitor = monitor
        inst.subscribers += 1
        inst.handles[handle] = lambda event: None
        try:
            _, jsep = await session.message(
                handle,
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": room.janus_room,
                    "streams": [{"feed": publisher.feed}],
                },
            )
            if jsep is None:
                raise JanusError(0, "Janus sent no subscriber offer")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type="offer"))
            for transceiver in pc.getTransceivers():
                kind = transceiver.kind
                caps = RTCRtpSender.getCapabilities(kind).codecs
                wanted = publisher.codec if kind == "video" else "opus"
                transceiver.setCodecPreferences([c for c in caps if c.name == wanted])
            await pc.setLocalDescription(await pc.createAnswer())
            negotiated = _negotiated(pc.localDescription.sdp)
            for transceiver in pc.getTransceivers():
                neg = negotiated.get(transceiver.kind)
                if neg is None:
                    continue
                tap = _Tap(neg.kind, neg.codec, neg.pt)
                monitor.taps[neg.kind] = tap
                receiver: RTCRtpReceiver = transceiver.receiver
                internals.tap_receiver(receiver, tap.on_rtp, lambda: None)
            if self.record and "video" in monitor.taps and not publisher.closed:
                room.segments += 1
                monitor.recorder = Recorder(
                    self.media_dir / "livestreams" / str(room.livestream_id),
                    room.segments,
                    publisher.codec,
                    "audio" in monitor.taps,
                    thumbnail_after=self.thumbnail_after,
                )
                for tap in monitor.taps.values():
                    tap.recorder = monitor.recorder
            await session.message(
                handle, {"request": "start"}, {"type": "answer", "sdp": pc.localDescription.sdp}
            )
        except Exception as exc:
            logger.warning("show %s: monitor failed: %r", room.livestream_id, exc)

    async def _close_monitor(self, room: _Room, monitor: _Monitor) -> None:
        if monitor.closed:
            return
        monitor.closed = True
        inst = monitor.instance
        inst.handles.pop(monitor.handle, None)
        if inst.up and inst.session is not None:
            inst.subscribers = max(0, inst.subscribers - 1)
            with contextlib.suppress(JanusError):
                await inst.session.detach(monitor.handle)
        for tap in monitor.taps.values():
            tap.recorder = None
        await monitor.pc.close()
        if monitor.recorder is not None:
            result: RecordingResult = await asyncio.to_thread(monitor.recorder.join)
            self._emit_recording(room.livestream_id, result)

    # sessions ----------------------------------------------------------------------------------

    async def _room_ended(self, room: _Room) -> None:
        self.viewer_rtts.forget(room.livestream_id)
        for inst in self.instances:
            await self._destroy_room(room, inst)

    # queries -----------------------------------------------------------------------------------

    def is_live(self, livestream_id: int) -> bool:
        room = self.rooms.get(livestream_id)
        publisher = room.publisher if room is not None else None
        return bool(publisher and publisher.connected and not publisher.closed)

    def stats(self, livestream_id: int) -> dict[str, Any]:
        room = self.rooms.get(livestream_id)
        publisher_stats: dict[str, Any] | None = None
        viewers = 0
        rtts: list[float] = []
        if room is not None:
            viewers = len(room.viewers)
            if room.viewers:  # cached; refreshed from the Admin APIs in the background
                cached = self.viewer_rtts.get(livestream_id, lambda: self._rtt_targets(room))
                rtts = [ms for viewer_id, ms in cached.items() if viewer_id in room.viewers]
            publisher = room.publisher
            if publisher is not None and not publisher.closed:
                taps = publisher.monitor.taps if publisher.monitor is not None else {}
                video = taps.get("video")
                publisher_stats = {
                    "bitrateKbps": round(sum(t.bitrate_kbps for t in taps.values()), 1),
                    "fps": round(video.fps, 1) if video else 0.0,
                    "width": video.size[0] if video and video.size else None,
                    "height": video.size[1] if video and video.size else None,
                    "codec": publisher.codec,
                    "packetsLost": sum(t.lost() for t in taps.values()),
                }
        return {
            "publisher": publisher_stats,
            "viewers": viewers,
            "viewerRttMs": {"p50": _percentile(rtts, 50), "p95": _percentile(rtts, 95)},
        }

    async def refresh_viewer_rtts(self, livestream_id: int) -> None:
        """Ask the Admin APIs for the show's viewer RTTs now (``stats`` does it when stale)."""
        room = self.rooms.get(livestream_id)
        if room is not None:
            await self.viewer_rtts.refresh(livestream_id, self._rtt_targets(room))

    def _rtt_targets(self, room: _Room) -> list[Target]:
        targets = []
        for viewer in room.viewers.values():
            inst = viewer.instance
            admin = self.admins[inst.index]
            if admin is not None and inst.session is not None and inst.session.session_id:
                targets.append(
                    Target(viewer.session_id, admin, inst.session.session_id, viewer.handle)
                )
        return targets

    def placement(self, livestream_id: int) -> dict[str, Any]:
        """Where the show lives: ``{"origin": url | None, "viewers": {url: n}, "remotes": [url]}``."""
        room = self.rooms.get(livestream_id)
        if room is None:
            return {"origin": None, "viewers": {}, "remotes": []}
        counts: dict[str, int] = {}
        for viewer in room.viewers.values():
            counts[viewer.instance.url] = counts.get(viewer.instance.url, 0) + 1
        return {
            "origin": room.publisher.instance.url if room.publisher else None,
            "viewers": counts,
            "remotes": [r.instance.url for r in room.remotes.values()],
        }


def _media_error(exc: JanusError) -> MediaError:
    """Map a Janus/VideoRoom error to the status the WHIP/WHEP routes answer with."""
    if isinstance(exc, JanusGone):
        return MediaError(503, f"Janus media server unavailable: {exc}")
    if exc.code in (428, 435):  # no such feed / not published
        return MediaError(409, "not live")
    if exc.code in (465, 466):  # SDP / JSEP errors
        return MediaError(400, f"Janus refused the SDP: {exc.reason}")
    return MediaError(502, f"Janus error: {exc}")
