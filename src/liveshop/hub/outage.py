"""Riding through a broker outage (Redis restarting): what the hub does while it is away and when
it comes back.

While the broker is ``degraded`` each process keeps serving its own sockets: chat is still stored
before it is acknowledged, and the broker delivers it to this process's subscribers only. Every
room remembers a chat id below every one it had passed on in the 10 s before the outage was
noticed (what other processes published just before it may be lost, and ids are taken before
commit, so theirs can be lower than this room's newest). Once the broker is back (re-subscribed),
each room reads the messages stored after that id and passes on those its sockets have not had (the other processes' chat of the outage), and the process republishes its presence
at once (a restarted Redis has forgotten it) so viewer counts are right within a tick or two.
A resume that fails (the database is away too) is tried again at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from liveshop.broker.base import State
from liveshop.hub.chat_sweep import pass_on_stored
from liveshop.hub.room import Room
from liveshop.storage import chat
from liveshop.storage.engine import Database
from liveshop.storage.errors import Unavailable

log = logging.getLogger(__name__)

RESUME_LIMIT = 1000  # messages read per room per catch-up (more are read at the next tick)
RESUME_MARGIN = 10.0  # seconds of chat before the outage was noticed that are read again


class BrokerOutage:
    """The hub's listener of the broker's state, and the chat catch-up after an outage."""

    def __init__(
        self,
        db: Database,
        rooms: Callable[[], Iterable[Room]],
        tick: Callable[[Room], asyncio.Future[None] | object],
        announce: Callable[[Room, int], Awaitable[None]],
    ) -> None:
        self.db = db
        self.rooms = rooms
        self.tick = tick
        self.announce = announce
        self.state: State = "ok"
        self._tasks: set[asyncio.Task[None]] = set()

    def on_state(self, state: State) -> None:
        """Called by the broker on each change of state (on the event loop)."""
        self.state = state
        if state == "degraded":
            for room in self.rooms():
                self.mark(room)
            return
        task = asyncio.get_running_loop().create_task(self.recover(), name="hub-broker-recover")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def mark(self, room: Room) -> None:
        """Remember where to catch the room's chat up from (kept if already set): below what it
        passed on in the last ``RESUME_MARGIN`` seconds."""
        if room.resume_after is None:
            room.resume_after = room.resume_point(RESUME_MARGIN)

    async def recover(self) -> None:
        """The broker is back: catch every room up and republish presence now."""
        for room in list(self.rooms()):
            room.presence_dirty = True
            try:
                if room.resume_after is not None:  # what we stored meanwhile reached nobody else
                    await self.announce(room, room.resume_after)
                await self.resume(room)
                result = self.tick(room)
                if asyncio.isfuture(result) or asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # retried at the next tick
                log.warning("catching show %s up after the broker outage: %s", room.show_id, exc)

    def catch_up_from(self, room: Room, after: int) -> None:
        """Another process is back from an outage: read the room's chat after ``after`` again at
        the next tick (passing on only what its sockets have not had)."""
        if room.resume_after is None or after < room.resume_after:
            room.resume_after = after

    async def resume(self, room: Room) -> int:
        """Pass on the chat stored since the outage began that the room has not passed on;
        the number passed on. No-op when nothing is pending or the broker is still away."""
        after = room.resume_after
        if after is None or self.state != "ok":
            return 0
        after = max(after, room.catch_up_floor())  # nothing from before the room was made
        try:
            async with self.db.session() as session:
                rows = await chat.after(session, room.show_id, after_id=after, limit=RESUME_LIMIT)
        except Unavailable:
            return 0  # the next tick tries again
        sent = pass_on_stored(room, rows)
        if len(rows) == RESUME_LIMIT:
            room.resume_after = rows[-1].id  # more to read next tick
        else:
            room.resume_after = None
        if sent:
            log.info("show %s: passed on %d chat messages missed in the outage", room.show_id, sent)
        return sent

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
