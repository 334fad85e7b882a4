"""The ``janus`` media mode: liveshop keeps WHIP/WHEP, auth and the show; Janus moves the media.

Per show, one VideoRoom room (room id = livestream id) on every instance that carries it. The
parts, one module each:

* :mod:`.publisher`: the WHIP publisher on the *origin* instance (``joinandconfigure`` with the
  offer; ``webrtcup`` → ``publisher_connected``);
* :mod:`.viewers`: WHEP viewers on the least-loaded instance, the offer bridged by :mod:`.sdp`;
* :mod:`.remotes`: the publisher copied to the other instances (cascading);
* :mod:`.monitor`: liveshop's own subscriber for the publisher stats and the recording;
* :mod:`.instances`: one Janus session per instance, reconnects, rooms, placing;
* :mod:`.videoroom`: every VideoRoom request body; :mod:`.show`: what a process holds of a show.

This module wires them and keeps what spans them:

* **Failures**: when an instance goes away (process gone, or "no such session" after a
  restart), its viewers are dropped (Janus hangs up their PeerConnections when it stops; a
  killed Janus cannot), a show whose origin it was ends with ``publisher_left`` (reason
  ``janus_down``) and its viewers on other instances are hung up; liveshop reconnects and places
  new sessions on the instances that are up.
* **Several liveshop processes**: what they must agree on is behind a
  :class:`~liveshop.media.janus.placement.base.Placement` (in this process by default, in Redis
  with ``LIVESHOP_REDIS_URL``). Viewers and origins are placed on the totals over every live
  process; a session held by another process is ended by detaching its handle through Janus,
  and its owner cleans up on the ``detached`` event. The process driving the publisher keeps the
  monitor and recording and, when the publisher leaves, hangs up every process's viewers. A
  process that stops reporting (killed) drops out after the placement's TTL (15 s).
  ``is_live``/``stats`` add the other processes' share as of :meth:`refresh`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import aiortc_internals as internals
from ..base import EventCallback, MediaBackend, MediaError, MediaSession, Playback
from ..stats import media_stats, publisher_stats
from ..tasks import SessionRooms
from .admin import JanusAdmin, Target, ViewerRtts
from .client import JanusSession
from .instances import Instance, InstancePool
from .layers import LayerControl
from .placement.base import Load, Placement
from .placement.memory import MemoryPlacement
from .publisher import Publishers
from .remotes import RemoteCopies
from .show import Others, Publisher, Room, Viewer
from .viewers import Viewers

logger = logging.getLogger(__name__)

DEFAULT_MAX_VIEWERS = 500


class JanusMediaBackend(SessionRooms, MediaBackend):
    """Drives one or more Janus VideoRoom instances over the HTTP API (see module doc)."""

    mode = "janus"
    rooms: dict[int, Room]

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
        self.rooms = {}
        self.placement = placement if placement is not None else MemoryPlacement()
        self.pool = InstancePool(
            urls,
            api_secret=api_secret,
            admin_key=admin_secret,
            placement=self.placement,
            max_viewers=max_viewers_per_instance,
            on_lost=self._on_lost,
            on_reconnected=self._report,
        )
        self.instances: list[Instance] = self.pool.all
        self.remotes = RemoteCopies(self.pool, self.placement)
        self.layers = LayerControl(
            admins=dict(zip(urls, self.admins, strict=True)),
            placement=self.placement,
            top_height=self._top_height,
            on_video=self._viewer_video,
        )
        self.viewers = Viewers(
            pool=self.pool,
            placement=self.placement,
            remotes=self.remotes,
            room_of=self._room,
            report=self._report,
            spawn=self._spawn,
            layers=self.layers,
        )
        self.publishers = Publishers(
            pool=self.pool,
            placement=self.placement,
            viewers=self.viewers,
            remotes=self.remotes,
            room_of=self._room,
            report=self._report,
            spawn=self._spawn,
            emit=self._emit,
            emit_recording=self._emit_recording,
            ice_servers=self.ice_servers,
            media_dir=self.media_dir,
            record=self.record,
            thumbnail_after=self.thumbnail_after,
        )
        self._others: dict[int, Others] = {}  # what other processes hold, per show (refresh)
        self._report_lock = asyncio.Lock()
        self._sync: asyncio.Task[None] | None = None

    @property
    def _me(self) -> str:
        return self.placement.process_id

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        internals.prepare()
        await self.placement.start()
        await asyncio.gather(*(self.pool.connect_or_retry(inst) for inst in self.instances))
        await self._report()
        if self.placement.shared:
            self._sync = asyncio.create_task(self._sync_loop(), name="janus-placement")

    async def close(self) -> None:
        self._closing = self.pool.closing = True
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
        await self.pool.stop_reconnecting()
        await self._finish_all()
        await self.layers.close()
        await self.viewer_rtts.close()
        for admin in self.admins:
            if admin is not None:
                await admin.close()
        await self.pool.disconnect()
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

    def _room(self, livestream_id: int) -> Room:
        room = self.rooms.get(livestream_id)
        if room is None:
            room = self.rooms[livestream_id] = Room(livestream_id)
        return room

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
                    if others == Others() and livestream_id not in self.rooms:
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
        self._others[livestream_id] = Others(
            live=bool(theirs and theirs.live),
            publisher=theirs.stats if theirs is not None else None,
            viewers=others.viewers.get(livestream_id, 0),
        )

    # an instance went away -------------------------------------------------------------------

    async def _on_lost(self, inst: Instance, session: JanusSession) -> None:
        if inst.session is not session:
            return
        logger.warning("Janus %s went away; ending its sessions", inst.url)
        inst.mark_down()
        dropped: list[str] = []
        owned: list[tuple[Room, Publisher]] = []
        for room in list(self.rooms.values()):
            publisher = room.publisher
            origin_lost = publisher is not None and publisher.instance is inst
            if publisher is not None and origin_lost:
                self._spawn(self._close_publisher(room, publisher, "janus_down"))
            elif publisher is not None and not publisher.closed:
                owned.append((room, publisher))
            moved = []
            for viewer in list(room.viewers.values()):
                if viewer.instance is inst:
                    viewer.closed = True
                    room.viewers.pop(viewer.session_id, None)
                    self.layers.remove(viewer.session_id)
                    dropped.append(viewer.session_id)
                    moved.append(viewer.session_id)
            if moved and not origin_lost:  # the show goes on elsewhere: those viewers come back
                self._emit("viewers_lost", room.livestream_id, {"sessions": moved})
        self.pool.schedule_reconnect(inst)
        try:  # the shared part: the room, remote copies and sessions there are gone
            for session_id in dropped:
                await self.placement.remove_session(session_id)
            for room in list(self.rooms.values()):
                await self.placement.remove_room(room.livestream_id, inst.url)
            for room, publisher in owned:  # stop forwarding to it
                remote = (await self.placement.remotes(room.livestream_id)).get(inst.url)
                if remote is not None:
                    await self.placement.remove_remote(room.livestream_id, inst.url)
                    await self.remotes.unpublish(
                        room.livestream_id, publisher.instance, remote.feed, remote.remote_id
                    )
            await self._report()
        finally:
            inst.down.set()
            self._spawn(session.close())  # cancels the poll task this runs in: last

    # publish and watch -------------------------------------------------------------------------

    async def publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        try:
            return await self.publishers.publish(livestream_id, offer_sdp, replace=replace)
        except self.placement.errors as exc:
            raise MediaError(503, f"the shared placement store is unavailable: {exc}") from exc

    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        if self._closing:
            raise MediaError(409, "media backend is shutting down")
        try:
            return await self.viewers.watch(livestream_id, offer_sdp)
        except self.placement.errors as exc:
            raise MediaError(503, f"the shared placement store is unavailable: {exc}") from exc

    async def _close_publisher(
        self, room: Room, publisher: Publisher, reason: str, notify: bool = True
    ) -> None:
        await self.publishers.close(room, publisher, reason, notify)

    async def _close_viewer(self, room: Room, viewer: Viewer) -> None:
        await self.viewers.close(room, viewer)

    # sessions ----------------------------------------------------------------------------------

    async def end_session(self, livestream_id: int, session_id: str) -> bool:
        if await super().end_session(livestream_id, session_id):
            return True
        return await self.pool.end_elsewhere(livestream_id, session_id)

    async def end_show(self, livestream_id: int) -> None:
        self._room(livestream_id)  # the show may be held by other processes only
        await super().end_show(livestream_id)

    async def _room_ended(self, room: Room) -> None:
        """The other processes' publisher and viewers are hung up, every room destroyed."""
        livestream_id = room.livestream_id
        self.viewer_rtts.forget(livestream_id)
        show = await self.placement.get_show(livestream_id)
        if show is not None and show.owner != self._me:
            await self.pool.end_elsewhere(livestream_id, show.session_id)
        for session_id, record in (await self.placement.show_sessions(livestream_id)).items():
            if record.owner != self._me:
                await self.pool.hang_up(record)
                await self.placement.remove_session(session_id)
        created = await self.placement.rooms(livestream_id)
        for inst in self.instances:
            if inst.url in created:
                await self.pool.destroy_room(livestream_id, inst)
        await self.placement.forget_show(livestream_id)

    # queries -----------------------------------------------------------------------------------

    def set_viewer_size(
        self, livestream_id: int, session_id: str, width: int | None, height: int | None
    ) -> bool:
        """A simulcast show's viewer of this process gets no substream taller than its player
        (see :mod:`.layers`). A session held by another process (several processes) is accepted
        and not acted on; False for an unknown session otherwise."""
        room = self.rooms.get(livestream_id)
        if room is None or session_id not in room.viewers:
            return self.placement.shared
        self.layers.set_max_height(session_id, height)
        return True

    def set_viewer_playback(self, livestream_id: int, session_id: str, playback: Playback) -> bool:
        """Shown in ``viewerLinks`` for a simulcast viewer of this process; accepted and not
        shown otherwise (a session of another process, or of a single-layer show); False for a
        session nobody knows."""
        room = self.rooms.get(livestream_id)
        if room is None or session_id not in room.viewers:
            return self.placement.shared
        self.layers.set_playback(session_id, playback)
        return True

    def _viewer_video(self, livestream_id: int, session_id: str, paused: bool) -> None:
        """The layer rule paused (or resumed) one viewer's video: ``viewer_video``."""
        state = "paused" if paused else "playing"
        data = {"session_id": session_id, "state": state, "reason": "bandwidth"}
        self._emit("viewer_video", livestream_id, data)

    def _top_height(self, livestream_id: int) -> int | None:
        """The height of the layer the monitor receives (the top one), here or elsewhere."""
        room = self.rooms.get(livestream_id)
        publisher = room.publisher if room is not None else None
        monitor = publisher.monitor if publisher is not None else None
        tap = monitor.taps.get("video") if monitor is not None else None
        if tap is not None and tap.stats.size is not None:
            return tap.stats.size[1]
        theirs = self._others.get(livestream_id, Others()).publisher or {}
        height = theirs.get("height")
        return height if isinstance(height, int) else None

    def is_live(self, livestream_id: int) -> bool:
        """Live here or, as of the last :meth:`refresh`, in another process."""
        room = self.rooms.get(livestream_id)
        publisher = room.publisher if room is not None else None
        others = self._others.get(livestream_id, Others())
        return bool(publisher and publisher.connected and not publisher.closed) or others.live

    def health(self) -> dict[str, Any]:
        """Degraded while any instance is down (its viewers are being moved to the others)."""
        instances = [
            {"url": inst.url, "state": "up" if inst.up else "down"} for inst in self.instances
        ]
        up = all(i["state"] == "up" for i in instances)
        return {"state": "ok" if up else "degraded", "instances": instances, "recording": "ok"}

    def stats(self, livestream_id: int) -> dict[str, Any]:
        """This process's share plus the others' as of the last :meth:`refresh`."""
        return self._stats(livestream_id, self._others.get(livestream_id, Others()))

    def own_stats(self, livestream_id: int) -> dict[str, Any]:
        """This process's share only: its viewers, and the publisher if it publishes here."""
        return self._stats(livestream_id, Others())

    def _stats(self, livestream_id: int, others: Others) -> dict[str, Any]:
        room = self.rooms.get(livestream_id)
        publisher_part: dict[str, Any] | None = others.publisher
        viewers = others.viewers
        rtts: list[float] = []  # this process's viewers (the Admin API answers per handle)
        losses: list[float] = []
        if room is not None:
            viewers += len(room.viewers)
            if room.viewers:  # cached; refreshed from the Admin APIs in the background
                cached = self.viewer_rtts.get(livestream_id, lambda: self._rtt_targets(room))
                rtts = [ms for viewer_id, ms in cached.items() if viewer_id in room.viewers]
                lost = self.viewer_rtts.losses(livestream_id)
                losses = [pct for viewer_id, pct in lost.items() if viewer_id in room.viewers]
            publisher = room.publisher
            if publisher is not None and not publisher.closed:
                taps = publisher.monitor.taps if publisher.monitor is not None else {}
                publisher_part = publisher_stats(
                    publisher.codec, {kind: tap.stats for kind, tap in taps.items()}
                )
        links = self.layers.describe(livestream_id)  # this process's simulcast viewers
        return media_stats(publisher_part, viewers, rtts, losses, links)

    async def refresh_viewer_rtts(self, livestream_id: int) -> None:
        """Ask the Admin APIs for the show's viewer RTTs now (``stats`` does it when stale)."""
        room = self.rooms.get(livestream_id)
        if room is not None:
            await self.viewer_rtts.refresh(livestream_id, self._rtt_targets(room))

    def _rtt_targets(self, room: Room) -> list[Target]:
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
