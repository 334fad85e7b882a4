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

* **Several liveshop processes**: what they must agree on — per show the origin, feed id,
  streams and live flag of the publisher, the instances its room was created on and its remote
  copies; per WHIP/WHEP session the instance, Janus session and handle; per process its load —
  is behind a :class:`~liveshop.media.janus.placement.Placement`: in this process by default, in
  Redis with ``LIVESHOP_REDIS_URL``. Viewers and origins are placed on the totals over every live
  process; a room or remote copy is created under a lock over all processes; a session held by
  another process is ended by detaching its handle through Janus (any HTTP client may address
  any session/handle id), and its owner cleans up on the ``detached`` event. The process driving
  the publisher keeps the monitor and recording and, when the publisher leaves, hangs up every
  process's viewers. A process that stops reporting (killed) drops out after the placement's TTL
  (15 s). ``is_live``/``stats`` add the other processes' share as of :meth:`refresh`.
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
from ..negotiation import check_direction, choose_publisher_codec, negotiated_streams, parse_offer
from ..recording import Recorder, RecordingResult
from ..rtputil import H264, VP8, keyframe_start
from ..stats import StreamStats, media_stats, publisher_stats
from ..tasks import SessionRooms
from .admin import JanusAdmin, Target, ViewerRtts
from .client import JanusError, JanusGone, JanusSession
from .placement.base import Load, Placement, RemoteRecord, SessionRecord, ShowRecord
from .placement.memory import MemoryPlacement
from .sdp import bridge

logger = logging.getLogger(__name__)

RECONNECT_S = 2.0
REMOTE_READY_S = 3.0
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
        self.stats = StreamStats(codec)

    async def on_rtp(self, packet: RtpPacket) -> None:
        if packet.payload_type != self.pt or not packet.payload:
            return
        payload = packet.payload
        seq = packet.sequence_number
        stats = self.stats
        stats.count(seq, len(payload), packet.marker)
        if self.kind == "video" and stats.size_due() and keyframe_start(self.codec, payload):
            stats.sample_size(payload)
        if self.recorder is not None:
            self.recorder.put(self.kind, seq, packet.timestamp, bool(packet.marker), payload)


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
class _Room:
    """What this process holds of a show (the rest is in the :class:`Placement`)."""

    livestream_id: int
    publisher: _Publisher | None = None  # when this process drives it
    viewers: dict[str, _Viewer] = field(default_factory=dict)  # this process's viewers
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def janus_room(self) -> int:
        return self.livestream_id


@dataclass
class _Others:
    """What the other processes hold of a show, as of the last :meth:`refresh`."""

    live: bool = False
    publisher: dict[str, Any] | None = None  # the stats their publisher reported
    viewers: int = 0


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
        placement: Placement | None = None,
    ) -> None:
        urls = [u.rstrip("/") for u in janus_urls if u.strip()]
        if not urls:
            raise ValueError("the janus media mode needs LIVESHOP_JANUS_URLS")
        self.instances = [_Instance(i, url) for i, url in enumerate(urls)]
        self._by_url = {inst.url: inst for inst in self.instances}
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
        self.placement = placement if placement is not None else MemoryPlacement()
        self._others: dict[int, _Others] = {}  # what other processes hold, per show (refresh)
        self._report_lock = asyncio.Lock()
        self._sync: asyncio.Task[None] | None = None

    @property
    def _me(self) -> str:
        return self.placement.process_id

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        internals.prepare()
        await self.placement.start()
        await asyncio.gather(*(self._connect_or_retry(inst) for inst in self.instances))
        await self._report()
        if self.placement.shared:
            self._sync = asyncio.create_task(self._sync_loop(), name="janus-placement")

    async def close(self) -> None:
        self._closing = True
        for livestream_id in list(self.rooms):
            if self.placement.shared:  # the show goes on in the other processes
                await self._close_local(livestream_id)
            else:
                await self.end_show(livestream_id)
        if self._sync is not None:
            self._sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync
            self._sync = None
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
        await self.placement.close()

    async def _close_local(self, livestream_id: int) -> None:
        """This process's publisher and viewers of the show, leaving the show to the others."""
        room = self.rooms[livestream_id]
        async with room.lock:
            if room.publisher is not None:
                await self._close_publisher(room, room.publisher, "show_ended")
            for viewer in list(room.viewers.values()):
                await self._close_viewer(room, viewer)
        await self._finish_others()
        self.rooms.pop(livestream_id, None)

    # shared placement --------------------------------------------------------------------------

    def _load(self) -> Load:
        load = Load()
        for inst in self.instances:
            if inst.up:
                load.subscribers[inst.url] = inst.subscribers
                load.publishers[inst.url] = inst.publishers
        for room in self.rooms.values():
            if room.viewers:
                load.viewers[room.livestream_id] = len(room.viewers)
        return load

    async def _report(self) -> None:
        """Tell the other processes this process's load (in order: one report at a time)."""
        if not self.placement.shared:
            return
        async with self._report_lock:
            await self.placement.report(self._load())

    async def _sync_loop(self) -> None:
        """Keep this process alive in the placement and its publishers' stats fresh there."""
        while True:
            await asyncio.sleep(self.placement.ttl / 3)
            try:
                await self._report()
                for room in list(self.rooms.values()):
                    publisher = room.publisher
                    if publisher is not None and publisher.connected and not publisher.closed:
                        stats = self.stats(room.livestream_id)["publisher"]
                        await self.placement.update_show(
                            room.livestream_id, publisher.session_id, stats=stats
                        )
                for livestream_id in set(self.rooms) | set(self._others):
                    await self.refresh(livestream_id)
                    others = self._others.get(livestream_id)
                    if others == _Others() and livestream_id not in self.rooms:
                        del self._others[livestream_id]  # over: stop following it
            except Exception as exc:  # Redis away: keep trying; entries expire meanwhile
                logger.warning("janus placement: %r", exc)

    async def refresh(self, livestream_id: int) -> None:
        """Bring :meth:`is_live` / :meth:`stats` up to date with the other processes' share."""
        if not self.placement.shared:
            return
        try:
            show = await self.placement.get_show(livestream_id)
            others = await self.placement.others()
        except self.placement.errors as exc:  # answer with what we knew
            logger.warning("janus placement: %r", exc)
            return
        theirs = show if show is not None and show.owner != self._me else None
        self._others[livestream_id] = _Others(
            live=bool(theirs and theirs.live),
            publisher=theirs.stats if theirs is not None else None,
            viewers=others.viewers.get(livestream_id, 0),
        )

    async def _hang_up(self, record: SessionRecord) -> None:
        """Detach a session's handle, whichever process's Janus session holds it."""
        inst = self._by_url.get(record.url)
        if inst is not None and inst.session is not None and inst.up:
            await inst.session.detach(record.handle, session_id=record.janus_session)

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
        with contextlib.suppress(Exception):
            await self._report()

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
        inst.session = None
        inst.control = None
        inst.handles = {}
        inst.subscribers = inst.publishers = 0
        dropped: list[str] = []
        owned: list[tuple[_Room, _Publisher]] = []
        for room in list(self.rooms.values()):
            publisher = room.publisher
            if publisher is not None and publisher.instance is inst:
                self._spawn(self._close_publisher(room, publisher, "janus_down"))
            elif publisher is not None and not publisher.closed:
                owned.append((room, publisher))
            for viewer in list(room.viewers.values()):
                if viewer.instance is inst:
                    viewer.closed = True
                    room.viewers.pop(viewer.session_id, None)
                    dropped.append(viewer.session_id)
        self._schedule_reconnect(inst)
        try:  # the shared part: the room, remote copies and sessions there are gone
            for session_id in dropped:
                await self.placement.remove_session(session_id)
            for room in list(self.rooms.values()):
                await self.placement.remove_room(room.livestream_id, inst.url)
            for room, publisher in owned:  # stop forwarding to it
                remote = (await self.placement.remotes(room.livestream_id)).get(inst.url)
                if remote is not None:
                    await self.placement.remove_remote(room.livestream_id, inst.url)
                    await self._unpublish_remotely(
                        room.livestream_id, publisher.instance, remote.feed, remote.remote_id
                    )
            await self._report()
        finally:
            inst.down.set()
            self._spawn(session.close())  # cancels the poll task this runs in: last

    # rooms -------------------------------------------------------------------------------------

    def _admin(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.admin_secret:
            body["admin_key"] = self.admin_secret
        return body

    async def _ensure_room(self, room: _Room, inst: _Instance) -> None:
        if inst.url in await self.placement.rooms(room.livestream_id):
            return
        async with self.placement.lock(f"room:{room.livestream_id}:{inst.url}"):
            if inst.url not in await self.placement.rooms(room.livestream_id):
                await self._create_room(room, inst)
                await self.placement.add_room(room.livestream_id, inst.url)

    async def _create_room(self, room: _Room, inst: _Instance) -> None:
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

    async def _destroy_room(self, room: _Room, inst: _Instance) -> None:
        await self.placement.remove_room(room.livestream_id, inst.url)
        if not inst.up or inst.control is None:
            return
        with contextlib.suppress(JanusError):
            await inst.live_session().request(
                inst.control, self._admin({"request": "destroy", "room": room.janus_room})
            )

    async def _totals(self) -> tuple[list[_Instance], dict[str, int], dict[str, int]]:
        """The up instances and their subscribers and publishers summed over every process."""
        up = [inst for inst in self.instances if inst.up]
        if not up:
            raise MediaError(503, "no Janus media server is reachable")
        others = await self.placement.others()
        subscribers = {i.url: i.subscribers + others.subscribers.get(i.url, 0) for i in up}
        publishers = {i.url: i.publishers + others.publishers.get(i.url, 0) for i in up}
        return up, subscribers, publishers

    async def _origin_for(self, room: _Room) -> _Instance:
        up, subscribers, publishers = await self._totals()
        return min(up, key=lambda i: (publishers[i.url], subscribers[i.url], i.index))

    async def _place_viewer(self) -> _Instance:
        up, subscribers, _ = await self._totals()
        free = [inst for inst in up if subscribers[inst.url] < self.max_viewers]
        if not free:
            raise MediaError(503, "all Janus media servers are full")
        return min(free, key=lambda i: (subscribers[i.url], i.index))

    # publish -----------------------------------------------------------------------------------

    async def publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        try:
            return await self._publish(livestream_id, offer_sdp, replace=replace)
        except self.placement.errors as exc:
            raise MediaError(503, f"the shared placement store is unavailable: {exc}") from exc

    async def _publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        offer = parse_offer(offer_sdp)
        for media in offer.media:
            check_direction(media, "publisher")
            choose_publisher_codec(media)  # 415 before Janus is involved
        room = self._room(livestream_id)
        async with room.lock, self.placement.lock(f"show:{livestream_id}"):
            old = room.publisher
            shared = await self.placement.get_show(livestream_id)
            if shared is not None and old is not None and shared.session_id == old.session_id:
                shared = None  # ours: ``old``
            if ((old is not None and not old.closed) or shared is not None) and not replace:
                raise MediaError(409, "this livestream already has a publisher")
            if old is not None:
                await self._close_publisher(room, old, "replaced", notify=False)
            if shared is not None:  # another process's publisher: hang it up through Janus
                await self._end_elsewhere(livestream_id, shared.session_id)
            inst = await self._origin_for(room)
            try:
                session = inst.live_session()
                await self._ensure_room(room, inst)
                handle = await session.attach()
            except JanusError as exc:
                raise MediaError(503, f"Janus media server error: {exc}") from exc
            feed = await self.placement.next_number(livestream_id, "feed")
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
            assert session.session_id is not None
            await self.placement.set_show(
                livestream_id,
                ShowRecord(
                    session_id=publisher.session_id,
                    owner=self._me,
                    origin=inst.url,
                    feed=feed,
                    codec=publisher.codec,
                    streams=publisher.streams,
                ),
            )
            await self.placement.add_session(
                publisher.session_id,
                SessionRecord(
                    livestream_id, "publisher", inst.url, session.session_id, handle, self._me
                ),
            )
            await self._report()
        return MediaSession(session_id=publisher.session_id, answer_sdp=str(jsep["sdp"]))

    def _publisher_handler(self, room: _Room, publisher: _Publisher) -> Handler:
        def handle(event: dict[str, Any]) -> None:
            kind = event.get("janus")
            if kind == "webrtcup" and not publisher.connected and not publisher.closed:
                publisher.connected = True
                publisher.instance.subscribers += 1  # the monitor's, counted before anyone asks
                self._spawn(self._went_live(room, publisher))
                publisher.starting = asyncio.ensure_future(self._start_monitor(room, publisher))
            elif kind in ("hangup", "detached") and not publisher.closed:
                self._spawn(self._close_publisher(room, publisher, "hangup"))

        return handle

    async def _went_live(self, room: _Room, publisher: _Publisher) -> None:
        """Live for every process first, then ``publisher_connected`` (viewers may come anywhere)."""
        await self._report()
        await self.placement.update_show(room.livestream_id, publisher.session_id, live=True)
        if not publisher.closed:
            self._emit(
                "publisher_connected",
                room.livestream_id,
                {"session_id": publisher.session_id, "codec": publisher.codec},
            )

    async def _end_elsewhere(self, livestream_id: int, session_id: str) -> bool:
        """End a session another process holds (or held: it may be dead) through Janus."""
        record = await self.placement.find_session(session_id)
        if record is not None:
            await self._hang_up(record)
            await self.placement.remove_session(session_id)
        if record is None or record.kind == "publisher":
            await self.placement.clear_show(livestream_id, session_id)
        return record is not None and record.livestream_id == livestream_id

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
        livestream_id = room.livestream_id
        await self.placement.clear_show(livestream_id, publisher.session_id)  # not live anywhere
        await self.placement.remove_session(publisher.session_id)
        # viewers first (they are hung up by detaching their handles), then the remote copies
        if current:
            for viewer in list(room.viewers.values()):
                await self._close_viewer(room, viewer)
            for session_id, record in (await self.placement.show_sessions(livestream_id)).items():
                if record.kind == "viewer" and record.owner != self._me:  # other processes'
                    await self._hang_up(record)
                    await self.placement.remove_session(session_id)
        for url, remote in (await self.placement.remotes(livestream_id)).items():
            if remote.feed == publisher.feed:
                await self.placement.remove_remote(livestream_id, url)
                await self._remove_remote(livestream_id, inst, url, remote)
        await self._report()
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

    async def _ensure_remote(self, room: _Room, show: ShowRecord, inst: _Instance) -> None:
        """Make the publisher (on its origin) available on ``inst`` (VideoRoom remotization),
        once per show, instance and feed over every process (under a shared lock)."""
        if inst.url == show.origin:
            return
        livestream_id = room.livestream_id
        remote = (await self.placement.remotes(livestream_id)).get(inst.url)
        if remote is not None and remote.feed == show.feed:
            return
        async with self.placement.lock(f"remote:{livestream_id}:{inst.url}"):
            remote = (await self.placement.remotes(livestream_id)).get(inst.url)
            if remote is not None and remote.feed == show.feed:
                return
            origin = self._by_url.get(show.origin)
            if origin is None:
                raise JanusGone(0, f"the origin {show.origin} is not in LIVESHOP_JANUS_URLS")
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
                        "id": show.feed,
                        "display": f"liveshop-{livestream_id}",
                        "streams": show.streams,
                    }
                ),
            )
            host = str(added.get("ip") or "")
            if not host or host in ("0.0.0.0", "::"):
                host = inst.host
            remote = RemoteRecord(feed=show.feed, remote_id=f"liveshop-{inst.index}-{show.feed}")
            try:
                forward: dict[str, Any] = {
                    "request": "publish_remotely",
                    "room": room.janus_room,
                    "publisher_id": show.feed,
                    "remote_id": remote.remote_id,
                    "host": host,
                    "port": int(added["port"]),
                }
                if added.get("rtcp_port"):
                    forward["rtcp_port"] = int(added["rtcp_port"])
                await origin_session.request(origin.control, self._admin(forward))
            except BaseException:
                await self._remove_remote(livestream_id, origin, inst.url, remote, unpublish=False)
                raise
            await self.placement.set_remote(livestream_id, inst.url, remote)
            logger.info(
                "show %s: publisher %s forwarded from %s to %s (%s:%s)",
                livestream_id,
                show.feed,
                origin.url,
                inst.url,
                host,
                added["port"],
            )

    async def _unpublish_remotely(
        self, livestream_id: int, origin: _Instance, feed: int, remote_id: str
    ) -> None:
        if not origin.up or origin.session is None or origin.control is None:
            return
        with contextlib.suppress(JanusError):
            await origin.session.request(
                origin.control,
                self._admin(
                    {
                        "request": "unpublish_remotely",
                        "room": livestream_id,
                        "publisher_id": feed,
                        "remote_id": remote_id,
                    }
                ),
            )

    async def _remove_remote(
        self,
        livestream_id: int,
        origin: _Instance,
        url: str,
        remote: RemoteRecord,
        unpublish: bool = True,
    ) -> None:
        if unpublish:
            await self._unpublish_remotely(livestream_id, origin, remote.feed, remote.remote_id)
        inst = self._by_url.get(url)
        if inst is not None and inst.up and inst.session is not None and inst.control is not None:
            with contextlib.suppress(JanusError):
                await inst.session.request(
                    inst.control,
                    self._admin(
                        {
                            "request": "remove_remote_publisher",
                            "room": livestream_id,
                            "id": remote.feed,
                        }
                    ),
                )

    # watch -------------------------------------------------------------------------------------

    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        try:
            return await self._watch(livestream_id, offer_sdp)
        except self.placement.errors as exc:
            raise MediaError(503, f"the shared placement store is unavailable: {exc}") from exc

    async def _watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        offer = parse_offer(offer_sdp)
        for media in offer.media:
            check_direction(media, "viewer")
        show = await self.placement.get_show(livestream_id)
        if show is None or not show.live:
            raise MediaError(409, "not live")
        room = self._room(livestream_id)
        publisher = room.publisher if room.publisher is not None else None
        if publisher is not None and publisher.session_id != show.session_id:
            publisher = None  # not ours (any more)
        inst = await self._place_viewer()
        inst.subscribers += 1  # reserve the slot while negotiating
        handle: int | None = None
        session: JanusSession | None = None
        try:
            await self._ensure_remote(room, show, inst)
            session = inst.live_session()
            handle = await session.attach()
            join = {
                "request": "join",
                "ptype": "subscriber",
                "room": room.janus_room,
                "streams": [{"feed": show.feed}],
            }
            jsep = await self._join_subscriber(
                session, handle, join, remote=inst.url != show.origin
            )
            if jsep is None or jsep.get("type") != "offer":
                raise JanusError(0, "Janus sent no subscriber offer")
            answers = bridge(offer_sdp, str(jsep["sdp"]))
            await session.message(
                handle, {"request": "start"}, {"type": "answer", "sdp": answers.janus_answer}
            )
            if publisher is not None and (room.publisher is not publisher or publisher.closed):
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
        assert session.session_id is not None
        record = SessionRecord(
            livestream_id, "viewer", inst.url, session.session_id, handle, self._me
        )
        await self.placement.add_session(viewer.session_id, record)
        await self._report()
        # recorded before this check: a publisher leaving now either sees the record (and hangs
        # the viewer up) or is seen here
        current = await self.placement.get_show(livestream_id)
        if current is None or current.session_id != show.session_id:
            await self._close_viewer(room, viewer)
            raise MediaError(409, "not live: the publisher left")
        return MediaSession(session_id=viewer.session_id, answer_sdp=answers.viewer_answer)

    async def _join_subscriber(
        self, session: JanusSession, handle: int, join: dict[str, Any], *, remote: bool
    ) -> dict[str, Any] | None:
        """``join`` as a subscriber; a remote copy just added may answer "no such feed" (428)
        until the first forwarded packets arrive: retried for up to :data:`REMOTE_READY_S`."""
        deadline = time.monotonic() + (REMOTE_READY_S if remote else 0.0)
        while True:
            try:
                _, jsep = await session.message(handle, join)
                return jsep
            except JanusError as exc:
                if exc.code != 428 or time.monotonic() >= deadline:
                    raise
                logger.debug("remote copy not ready yet (%s); retrying the join", exc)
            await asyncio.sleep(0.1)

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
        await self.placement.remove_session(viewer.session_id)
        await self._report()

    # monitor: stats + recording ----------------------------------------------------------------

    async def _start_monitor(self, room: _Room, publisher: _Publisher) -> None:
        """The monitor's subscriber slot was counted already (on ``webrtcup``)."""
        inst = publisher.instance
        try:
            session = inst.live_session()
            handle = await session.attach()
        except JanusError as exc:
            logger.warning("show %s: no monitor (%s)", room.livestream_id, exc)
            if inst.up:
                inst.subscribers = max(0, inst.subscribers - 1)
            return
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        monitor = _Monitor(instance=inst, handle=handle, pc=pc)
        publisher.monitor = monitor
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
            negotiated = negotiated_streams(pc.localDescription.sdp)
            for transceiver in pc.getTransceivers():
                neg = negotiated.get(transceiver.kind)
                if neg is None:
                    continue
                tap = _Tap(neg.kind, neg.codec, neg.pt)
                monitor.taps[neg.kind] = tap
                receiver: RTCRtpReceiver = transceiver.receiver
                internals.tap_receiver(receiver, tap.on_rtp, lambda: None)
            if self.record and "video" in monitor.taps and not publisher.closed:
                segment = await self.placement.next_number(room.livestream_id, "segment")
                monitor.recorder = Recorder(
                    self.media_dir / "livestreams" / str(room.livestream_id),
                    segment,
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
        await self._report()
        for tap in monitor.taps.values():
            tap.recorder = None
        await monitor.pc.close()
        if monitor.recorder is not None:
            result: RecordingResult = await asyncio.to_thread(monitor.recorder.join)
            self._emit_recording(room.livestream_id, result)

    # sessions ----------------------------------------------------------------------------------

    async def end_session(self, livestream_id: int, session_id: str) -> bool:
        if await super().end_session(livestream_id, session_id):
            return True
        return await self._end_elsewhere(livestream_id, session_id)

    async def end_show(self, livestream_id: int) -> None:
        self._room(livestream_id)  # the show may be held by other processes only
        await super().end_show(livestream_id)

    async def _room_ended(self, room: _Room) -> None:
        """The other processes' publisher and viewers are hung up, every room destroyed."""
        livestream_id = room.livestream_id
        self.viewer_rtts.forget(livestream_id)
        show = await self.placement.get_show(livestream_id)
        if show is not None and show.owner != self._me:
            await self._end_elsewhere(livestream_id, show.session_id)
        for session_id, record in (await self.placement.show_sessions(livestream_id)).items():
            if record.owner != self._me:
                await self._hang_up(record)
                await self.placement.remove_session(session_id)
        created = await self.placement.rooms(livestream_id)
        for inst in self.instances:
            if inst.url in created:
                await self._destroy_room(room, inst)
        await self.placement.forget_show(livestream_id)

    # queries -----------------------------------------------------------------------------------

    def is_live(self, livestream_id: int) -> bool:
        """Live here or, as of the last :meth:`refresh`, in another process."""
        room = self.rooms.get(livestream_id)
        publisher = room.publisher if room is not None else None
        others = self._others.get(livestream_id, _Others())
        return bool(publisher and publisher.connected and not publisher.closed) or others.live

    def stats(self, livestream_id: int) -> dict[str, Any]:
        """This process's share plus the others' as of the last :meth:`refresh`."""
        room = self.rooms.get(livestream_id)
        others = self._others.get(livestream_id, _Others())
        publisher_part: dict[str, Any] | None = others.publisher
        viewers = others.viewers
        rtts: list[float] = []  # this process's viewers (the Admin API answers per handle)
        if room is not None:
            viewers += len(room.viewers)
            if room.viewers:  # cached; refreshed from the Admin APIs in the background
                cached = self.viewer_rtts.get(livestream_id, lambda: self._rtt_targets(room))
                rtts = [ms for viewer_id, ms in cached.items() if viewer_id in room.viewers]
            publisher = room.publisher
            if publisher is not None and not publisher.closed:
                taps = publisher.monitor.taps if publisher.monitor is not None else {}
                publisher_part = publisher_stats(
                    publisher.codec, {kind: tap.stats for kind, tap in taps.items()}
                )
        return media_stats(publisher_part, viewers, rtts)

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

    async def where(self, livestream_id: int) -> dict[str, Any]:
        """Where the show lives, over every process: ``{"origin": url | None, "viewers":
        {url: n}, "remotes": [url]}``."""
        show = await self.placement.get_show(livestream_id)
        counts: dict[str, int] = {}
        for record in (await self.placement.show_sessions(livestream_id)).values():
            if record.kind == "viewer":
                counts[record.url] = counts.get(record.url, 0) + 1
        remotes = await self.placement.remotes(livestream_id)
        return {
            "origin": show.origin if show is not None else None,
            "viewers": counts,
            "remotes": [inst.url for inst in self.instances if inst.url in remotes],
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
