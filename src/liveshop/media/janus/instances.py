"""The Janus instances one liveshop process drives: their sessions, rooms and load.

Each instance has one :class:`~liveshop.media.janus.client.JanusSession` (long poll and
keep-alives) and one control handle for room management. An instance that cannot be reached is
retried every :data:`RECONNECT_S` seconds. Publishers and viewers are placed on the up instances
by the load summed over every liveshop process (the :class:`Placement`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..base import MediaError
from . import videoroom
from .client import JanusError, JanusGone, JanusSession
from .placement.base import Placement, SessionRecord

logger = logging.getLogger(__name__)

RECONNECT_S = 2.0

Handler = Callable[[dict[str, Any]], None]
LostCallback = Callable[["Instance", JanusSession], Awaitable[None]]


@dataclass(eq=False)
class Instance:
    """One Janus instance as this process sees it (counts are this process's own)."""

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
        """The host of the instance's URL (the address of a remote copy without a better one)."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    def live_session(self) -> JanusSession:
        """The instance's Janus session; :class:`JanusGone` while it is down."""
        if not self.up or self.session is None or self.session.lost:
            raise JanusGone(0, f"Janus {self.url} is down")
        return self.session

    def release_subscriber(self) -> None:
        """One subscriber fewer (nothing while down: the counts restarted from 0)."""
        if self.up:
            self.subscribers = max(0, self.subscribers - 1)

    def mark_down(self) -> None:
        """Forget the lost session and everything counted on it."""
        self.up = False
        self.ready.clear()
        self.session = None
        self.control = None
        self.handles = {}
        self.subscribers = self.publishers = 0


class InstancePool:
    """The instances of ``LIVESHOP_JANUS_URLS``, in that order (see module doc).

    Guarantees: an instance is ``up`` only with a started session and control handle; a lost
    session is reported once to ``on_lost`` (never for a session already replaced); reconnect
    tasks stop when :meth:`stop_reconnecting` is called.
    """

    def __init__(
        self,
        urls: list[str],
        *,
        api_secret: str,
        admin_key: str,
        placement: Placement,
        max_viewers: int,
        on_lost: LostCallback,
        on_reconnected: Callable[[], Awaitable[None]],
    ) -> None:
        self.all = [Instance(i, url) for i, url in enumerate(urls)]
        self.by_url = {inst.url: inst for inst in self.all}
        self.api_secret = api_secret
        self.admin_key = admin_key
        self.placement = placement
        self.max_viewers = max_viewers
        self.closing = False
        self._on_lost = on_lost
        self._on_reconnected = on_reconnected

    # connections -------------------------------------------------------------------------------

    async def connect(self, inst: Instance) -> None:
        """Start a Janus session and its control handle; raises :class:`JanusError` on failure."""
        session = JanusSession(
            inst.url,
            api_secret=self.api_secret,
            on_event=lambda handle, event: self._route(inst, handle, event),
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

    async def connect_or_retry(self, inst: Instance) -> None:
        """Connect now, or keep retrying in the background (never raises for Janus errors)."""
        try:
            await self.connect(inst)
        except JanusError as exc:
            logger.warning("Janus %s unavailable: %s; retrying", inst.url, exc)
            self.schedule_reconnect(inst)

    def schedule_reconnect(self, inst: Instance) -> None:
        """Retry ``inst`` every :data:`RECONNECT_S` until it is up (one task per instance)."""
        if self.closing or (inst.reconnect is not None and not inst.reconnect.done()):
            return
        inst.reconnect = asyncio.create_task(self._reconnect(inst), name=f"janus-{inst.index}")

    async def _reconnect(self, inst: Instance) -> None:
        while not self.closing and not inst.up:
            await asyncio.sleep(RECONNECT_S)
            with contextlib.suppress(JanusError):
                await self.connect(inst)
        with contextlib.suppress(Exception):
            await self._on_reconnected()

    async def stop_reconnecting(self) -> None:
        """Cancel every reconnect task and wait for it."""
        for inst in self.all:
            if inst.reconnect is not None:
                inst.reconnect.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await inst.reconnect
                inst.reconnect = None

    async def disconnect(self) -> None:
        """Close every instance's session (Janus then frees its handles)."""
        for inst in self.all:
            session, inst.session, inst.up = inst.session, None, False
            if session is not None:
                await session.close()

    def _route(self, inst: Instance, handle: int, event: dict[str, Any]) -> None:
        handler = inst.handles.get(handle)
        if handler is not None:
            handler(event)

    # rooms -------------------------------------------------------------------------------------

    async def ensure_room(self, livestream_id: int, inst: Instance) -> None:
        """The show's room exists on ``inst``: created once over every process (shared lock)."""
        if inst.url in await self.placement.rooms(livestream_id):
            return
        async with self.placement.lock(f"room:{livestream_id}:{inst.url}"):
            if inst.url not in await self.placement.rooms(livestream_id):
                await self._create_room(livestream_id, inst)
                await self.placement.add_room(livestream_id, inst.url)

    async def _create_room(self, livestream_id: int, inst: Instance) -> None:
        session = inst.live_session()
        assert inst.control is not None
        create = videoroom.create_room(livestream_id, admin_key=self.admin_key)
        try:
            await session.request(inst.control, create)
        except JanusError as exc:
            if exc.code != 427:  # 427: the room exists (left over by an earlier liveshop run)
                raise
            destroy = videoroom.destroy_room(livestream_id, admin_key=self.admin_key)
            await session.request(inst.control, destroy)
            await session.request(inst.control, create)

    async def destroy_room(self, livestream_id: int, inst: Instance) -> None:
        """Forget the show's room on ``inst`` and destroy it there (when up; errors ignored)."""
        await self.placement.remove_room(livestream_id, inst.url)
        if not inst.up or inst.control is None:
            return
        with contextlib.suppress(JanusError):
            await inst.live_session().request(
                inst.control, videoroom.destroy_room(livestream_id, admin_key=self.admin_key)
            )

    async def control_request(self, inst: Instance | None, body: dict[str, Any]) -> None:
        """A room-management request on ``inst`` when it is up; errors and down are ignored."""
        if inst is None or not inst.up or inst.session is None or inst.control is None:
            return
        with contextlib.suppress(JanusError):
            await inst.session.request(inst.control, body)

    # placement ---------------------------------------------------------------------------------

    async def _totals(self) -> tuple[list[Instance], dict[str, int], dict[str, int]]:
        """The up instances and their subscribers and publishers summed over every process."""
        up = [inst for inst in self.all if inst.up]
        if not up:
            raise MediaError(503, "no Janus media server is reachable")
        others = await self.placement.others()
        subscribers = {i.url: i.subscribers + others.subscribers.get(i.url, 0) for i in up}
        publishers = {i.url: i.publishers + others.publishers.get(i.url, 0) for i in up}
        return up, subscribers, publishers

    async def origin(self) -> Instance:
        """Where a new publisher goes: fewest publishers, then subscribers, then URL order.
        :class:`MediaError` 503 when none is up."""
        up, subscribers, publishers = await self._totals()
        return min(up, key=lambda i: (publishers[i.url], subscribers[i.url], i.index))

    async def place_viewer(self) -> Instance:
        """Where a new viewer goes: fewest subscribers under the cap, then URL order.
        :class:`MediaError` 503 when none is up or every one is full."""
        up, subscribers, _ = await self._totals()
        free = [inst for inst in up if subscribers[inst.url] < self.max_viewers]
        if not free:
            raise MediaError(503, "all Janus media servers are full")
        return min(free, key=lambda i: (subscribers[i.url], i.index))

    # sessions of any process -------------------------------------------------------------------

    async def hang_up(self, record: SessionRecord) -> None:
        """Detach a session's handle, whichever process's Janus session holds it."""
        inst = self.by_url.get(record.url)
        if inst is not None and inst.session is not None and inst.up:
            await inst.session.detach(record.handle, session_id=record.janus_session)

    async def end_elsewhere(self, livestream_id: int, session_id: str) -> bool:
        """End a session another process holds (or held: it may be dead) through Janus; True
        when it was a session of this show."""
        record = await self.placement.find_session(session_id)
        if record is not None:
            await self.hang_up(record)
            await self.placement.remove_session(session_id)
        if record is None or record.kind == "publisher":
            await self.placement.clear_show(livestream_id, session_id)
        return record is not None and record.livestream_id == livestream_id
