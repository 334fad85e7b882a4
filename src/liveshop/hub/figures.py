"""Live figures: what a show's page shows and others change (likes, pins, slow mode, the show's
state, the viewer count), kept newest-first whatever the order updates arrive in.

**The rule** (a max-register per figure). Every change to a show's stored figures bumps the show's
``revision`` in the same transaction (:mod:`liveshop.storage.livestreams`), and the update that
announces it carries that revision (``v`` in the envelope, ``rev`` on the wire). A process keeps,
per show and figure, the highest revision it has heard of with its frame, and passes a frame on
to sockets only when its revision is higher; an older one is dropped, whenever it arrives. So the
last value a room's sockets get is the one at the highest revision the process has seen, whatever
the interleaving of the writers and the broker's delivery order; and coalescing in a batch (which
keeps the latest frame of a key) keeps the newest by revision, since only newer ones get in.

**Repair** (:class:`FigureSync`). A lost or late broker message must not leave a stale value: every
:data:`SYNC_INTERVAL` each process reads the revision of every show it has sockets in (one
primary-key read) and, when the database is ahead of the last full read merged, reads the
show's figures at one revision (:func:`liveshop.storage.livestreams.live_state`) and merges them
by the same rule, sending only what changed. A join's snapshot is such a read too.

The viewer count is not stored: its "revision" is the order of this process's presence reads
(a read started later wins), see :meth:`liveshop.hub.room.Room.counted`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from liveshop import protocol
from liveshop.protocol import dump, product_out
from liveshop.storage import livestreams
from liveshop.storage.engine import Database
from liveshop.storage.errors import NotFound, Unavailable

if TYPE_CHECKING:
    from liveshop.hub.connection import Connection
    from liveshop.hub.room import Room
    from liveshop.storage.models import Livestream, Product

log = logging.getLogger(__name__)

SYNC_INTERVAL = 0.5
LIKES, PINS, SLOW_MODE, SHOW, VIEWERS = "likes", "pins", "slow_mode", "show", "viewer_count"
STORED = (LIKES, PINS, SLOW_MODE)  # figures a database read gives
# sent again by a repair even when unchanged, for its newer revision: a count is a small frame, and
# its revision tells a page (and a test) that no update still on its way can change it
RESEND_UNCHANGED = frozenset({LIKES})


@dataclass(slots=True)
class Figure:
    rev: int
    frame: str


def _content(frame: str) -> Any:
    """What a frame says, revision aside (two frames of one figure differ iff this does)."""
    event = json.loads(frame)
    if isinstance(event, dict):
        event.pop("rev", None)
    return event


class Figures:
    """The newest known frame of each figure of one show, with its revision."""

    __slots__ = ("_known", "synced")

    def __init__(self) -> None:
        self._known: dict[str, Figure] = {}
        self.synced = -1  # revision of the last full read merged (every stored figure)

    def get(self, key: str) -> Figure | None:
        return self._known.get(key)

    def rev(self, key: str) -> int:
        known = self._known.get(key)
        return -1 if known is None else known.rev

    def offer(self, key: str, rev: int, frame: str) -> bool:
        """Keep ``frame`` if ``rev`` is newer than what is known of ``key``; True if kept."""
        known = self._known.get(key)
        if known is not None and rev <= known.rev:
            return False
        self._known[key] = Figure(rev, frame)
        return True


class ShowRevisions:
    """The highest revision of each show's global events (start, edit, end) seen here."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._revs: dict[int, int] = {}

    def offer(self, show_id: int, rev: int) -> bool:
        """True if ``rev`` is newer than any global event of the show seen so far (now known)."""
        if rev <= self._revs.get(show_id, -1):
            return False
        if len(self._revs) >= self.LIMIT:
            self._revs.clear()  # shows are few; forgetting only lets an old event through once
        self._revs[show_id] = rev
        return True


def _frame(envelope: bytes) -> str:
    return protocol.open_envelope(envelope)[1]


@dataclass(frozen=True, eq=False)
class ShowRead:
    """A show's stored figures, all as of revision ``rev`` (one consistent read)."""

    show_id: int
    rev: int
    likes: int
    pins: list[dict[str, Any]]
    slow_mode: int
    active: bool
    video_url: str | None

    @classmethod
    def of(cls, stream: Livestream, pins: list[dict[str, Any]]) -> ShowRead:
        return cls(
            show_id=stream.id,
            rev=stream.revision,
            likes=stream.likes,
            pins=pins,
            slow_mode=stream.slow_mode_seconds,
            active=stream.is_active,
            video_url=stream.video_url,
        )

    def frames(self) -> dict[str, str]:
        show, rev = self.show_id, self.rev
        return {
            LIKES: _frame(protocol.likes_update(show, self.likes, rev)),
            PINS: _frame(protocol.pinned_products_update(show, self.pins, rev)),
            SLOW_MODE: _frame(protocol.slow_mode(show, self.slow_mode, rev)),
        }


def merge(room: Room, read: ShowRead, joiner: Connection | None = None) -> None:
    """Merge a consistent read into the room by the rule: a figure the read has newer than the room
    is kept and, if it differs from what the room's sockets were told (likes: always), sent to
    them; one the room has newer is sent to ``joiner`` (whose snapshot is this read), if it differs.

    A figure the room never had is kept silently: every socket's value came from a snapshot, and
    every snapshot is merged, so none has an older value that needs telling."""
    figures = room.figures
    for key, frame in read.frames().items():
        known = figures.get(key)
        if known is None:
            figures.offer(key, read.rev, frame)
        elif read.rev > known.rev:
            figures.offer(key, read.rev, frame)
            if key in RESEND_UNCHANGED or _content(known.frame) != _content(frame):
                room.broadcast(frame, key)
                if key == SLOW_MODE:
                    room.slow_mode = read.slow_mode
        elif (
            read.rev < known.rev and joiner is not None and _content(known.frame) != _content(frame)
        ):
            joiner.push(known.frame)
    figures.synced = max(figures.synced, read.rev)
    if not read.active and room.active:
        ended = _frame(protocol.stream_ended(read.show_id, read.video_url, read.rev))
        if figures.offer(SHOW, read.rev, ended):
            room.active = False
            room.broadcast(ended)


def reassert(room: Room, rev: int) -> None:
    """After a show event at ``rev`` (its ``livestream`` carries likes, pins and a viewer count as
    of then), send again the room's figures that are newer, so the newest stays the last shown."""
    for key in (LIKES, PINS):
        known = room.figures.get(key)
        if known is not None and known.rev > rev:
            room.broadcast(known.frame, key)
    viewers = room.figures.get(VIEWERS)
    if viewers is not None:
        room.broadcast(viewers.frame, VIEWERS)


def pins_payload(pins: list[Product]) -> list[dict[str, Any]]:
    return [dump(product_out(p)) for p in pins]


class FigureSync:
    """Repairs missed updates: every :data:`SYNC_INTERVAL`, for each show with local sockets, a
    one-column read of its revision; when the database is ahead of the room's last full read, a
    consistent read of its figures, merged by the rule."""

    def __init__(self, db: Database, interval: float = SYNC_INTERVAL) -> None:
        self.db, self.interval = db, interval

    async def run(self, rooms: Callable[[], Iterable[Room]]) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for room in list(rooms()):
                if not room.local:
                    continue
                try:
                    await self.sync(room)
                except Unavailable:
                    break  # the database is away: figures stay as they are until it is back
                except Exception:
                    log.exception("live figures sync failed for show %s", room.show_id)

    async def sync(self, room: Room) -> bool:
        """Bring the room up to the database; True when a full read was needed."""
        async with self.db.session() as session:
            rev = await livestreams.revision(session, room.show_id)
            if rev is None or rev <= room.figures.synced:
                return False
            try:
                stream, pins = await livestreams.live_state(session, room.show_id)
            except NotFound:
                return False
            read = ShowRead.of(stream, pins_payload(pins))
        merge(room, read)
        return True
