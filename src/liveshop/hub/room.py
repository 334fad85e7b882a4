"""A show as seen by one process: its local sockets, its peers, and the broadcast batcher.

Broadcasts are serialized once per room: when idle an event goes out at once; while busy, events
are gathered for at most :data:`BATCH_INTERVAL` and sent as one ``batch`` frame to every socket,
keeping only the latest event of each coalescing key (``likes_update``, ``viewer_count``…).

A frame reaches a big room's sockets :data:`DELIVERY_SLICE` at a time, one slice per event-loop
turn, so one broadcast never holds the loop for long (reading client messages and the database
round trips of the next chat message get a turn between slices). Events that arrive during a
delivery are gathered and sent as the next batch once it is done, so each socket's order is kept
and a room that takes longer to reach sends fewer, larger batches.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from liveshop import metrics, protocol
from liveshop.hub.figures import VIEWERS, Figures
from liveshop.hub.wsproto import encode_text_frame

if TYPE_CHECKING:
    from liveshop.broker.base import Subscription
    from liveshop.hub.connection import Connection

Pending = tuple[str | None, str, int | None]  # (coalescing key, frame, chat message id)
BATCH_INTERVAL = 0.1
DELIVERY_SLICE = 256
CHAT_REMEMBERED = 2048  # chat ids a room remembers passing on (duplicate-free resume)


class Room:
    """Local state of one show. Not thread-safe: lives on the hub's event loop."""

    def __init__(self, show_id: int) -> None:
        self.show_id = show_id
        self.local: dict[str, Connection] = {}
        self.peers: dict[str, str] = {}  # peer id → role ("admin" | "shopper"), every process
        self.viewers: Counter[str] = Counter()  # local shopper identity → sockets
        self.media_sessions: dict[str, Connection] = {}  # WHEP session → the local socket
        self.active = False
        self.slow_mode = 0
        self.banned: set[str] = set()
        self.banned_addresses: dict[str, str] = {}  # address → whose ban it came with
        self.new_shopper_wait = 0  # seconds an identity must have watched to chat or like
        self.first_seen: dict[str, float] = {}  # identity → hub clock of its first join here
        self.last_chat: dict[str, float] = {}
        self.subscription: Subscription | None = None
        self.count = -1
        self.peak = 0
        self.figures = Figures()  # newest known value of each live figure (hub.figures)
        self.count_reads = 0  # presence reads started: the viewer count's revisions
        self.presence_dirty = True
        self.presence_sent = 0.0
        self._pending: list[Pending] = []
        self._pending_since = 0.0  # when the oldest pending event arrived (fan-out lag metric)
        self._batch_since = 0.0  # the same, for the delivery in progress
        self._flush: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last_flush = -1.0
        self._delivering: asyncio.Handle | None = None  # next slice of a delivery in progress
        # what joiners' snapshots share (hub.Hub._show_state): valid while ``generation`` holds
        self.generation = 0  # bumped by every broadcast that can change a snapshot
        self.state: Any = None
        self.state_loading: tuple[int, asyncio.Future[Any]] | None = None
        # chat passed on to the local sockets, for catching up after a broker outage
        self.chat_high = 0  # the highest chat id passed on (or stored when the room was made)
        self.made_after = 0  # the highest chat id stored when the room was made
        self.chat_recent: deque[int] = deque(maxlen=CHAT_REMEMBERED)
        self.chat_times: deque[float] = deque(maxlen=CHAT_REMEMBERED)  # when each was passed on
        self.chat_known: set[int] = set()
        # which flush delivered each remembered chat id, and the socket's first flush: tells
        # whether a socket got a message live (Room.delivered)
        self.flushes = 0
        self.chat_flush: dict[int, int] = {}
        self.resume_after: int | None = None  # set while the broker is (or was) unreachable
        self.sweep_missing: frozenset[int] = frozenset()  # stored, not passed on (chat_sweep)

    # -- membership ------------------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        conn.first_flush = self.flushes + 1
        self.local[conn.peer_id] = conn  # ``peers`` learns it from the broker's peer control
        if conn.role == "shopper":
            self.viewers[conn.identity.id] += 1
            self.presence_dirty = True

    def remove(self, conn: Connection) -> bool:
        if self.local.pop(conn.peer_id, None) is None:
            return False
        self.watching(conn, None)
        if conn.role == "shopper":
            self.viewers[conn.identity.id] -= 1
            if self.viewers[conn.identity.id] <= 0:
                del self.viewers[conn.identity.id]
            self.presence_dirty = True
        return True

    def watching(self, conn: Connection, session: str | None) -> None:
        """``conn``'s page now watches through WHEP session ``session`` (None: none): events
        for that session go to it alone (the latest socket to claim a session gets them)."""
        old = conn.media_session
        if old is not None and self.media_sessions.get(old) is conn:
            del self.media_sessions[old]
        conn.media_session = session
        if session is not None:
            self.media_sessions[session] = conn

    def sellers(self) -> list[Connection]:
        return [c for c in self.local.values() if c.role == "admin"]

    # -- live figures ----------------------------------------------------------------------

    def offer(self, key: str, rev: int, frame: str) -> bool:
        """Broadcast ``frame`` (figure ``key`` at revision ``rev``) only if it is newer than what
        the room has of that figure; an older one is dropped. True if it was newer."""
        if not self.figures.offer(key, rev, frame):
            return False
        self.broadcast(frame, key)
        return True

    def counted(self, read: int, count: int, peak: int) -> bool:
        """A viewer count from presence read number ``read``: taken (and sent, when it changed)
        unless a read started later was taken already. True if taken."""
        frame = protocol.viewer_count(self.show_id, count, peak)
        if not self.figures.offer(VIEWERS, read, frame):
            return False
        if count != self.count:
            self.count = count
            self.broadcast(frame, key=VIEWERS)
        return True

    # -- chat resume -----------------------------------------------------------------------

    def note_chat(self, chat_id: int) -> None:
        """Remember that chat message ``chat_id`` was passed on to this room's sockets."""
        if chat_id in self.chat_known:
            return
        if len(self.chat_recent) == self.chat_recent.maxlen:
            self.chat_known.discard(self.chat_recent[0])
            self.chat_flush.pop(self.chat_recent[0], None)
        self.chat_recent.append(chat_id)
        self.chat_times.append(time.monotonic())
        self.chat_known.add(chat_id)
        self.chat_high = max(self.chat_high, chat_id)

    def resume_point(self, margin: float) -> int:
        """A chat id to catch up after once the broker is back: below every id passed on in the
        last ``margin`` seconds (the highest passed on, when none was). Messages stored on other
        processes just before the outage was noticed may have lower ids than this room's newest
        (ids are taken before commit, and the broker may have lost them while it went away)."""
        since = time.monotonic() - margin
        low = self.chat_high
        for at, chat_id in zip(reversed(self.chat_times), reversed(self.chat_recent), strict=True):
            if at < since:
                break
            low = min(low, chat_id - 1)
        return low

    def catch_up_floor(self) -> int:
        """The chat id at or below which catching up from the database passes nothing on: the
        newest stored when the room was made (its sockets had older ones in their snapshots),
        or, once the room remembers no more, the oldest id it still remembers (an older one it
        forgot is not to be taken for missing)."""
        floor = self.made_after
        if len(self.chat_recent) == self.chat_recent.maxlen:
            floor = max(floor, min(self.chat_recent))
        return floor

    def passed_on_since(self, seconds: float, below: int) -> list[int]:
        """Chat ids below ``below`` this room passed on in the last ``seconds``, ascending: the
        messages a socket that left this show's rooms moments ago may have missed, whatever
        their ids and stored times (a process may commit a low id late)."""
        since = time.monotonic() - seconds
        found: list[int] = []
        for at, chat_id in zip(reversed(self.chat_times), reversed(self.chat_recent), strict=True):
            if at < since:
                break
            if chat_id < below:
                found.append(chat_id)
        return sorted(found)

    def passed_on(self, chat_id: int) -> bool:
        return chat_id in self.chat_known

    def delivered(self, conn: Connection, chat_id: int) -> bool:
        """True when the broadcast of ``chat_id`` was delivered to ``conn`` (it was in the room
        when its batch was flushed); False when it was not, is still queued, or is forgotten."""
        return self.chat_flush.get(chat_id, 0) >= conn.first_flush

    # -- delivery --------------------------------------------------------------------------

    def send_to_role(self, role: str, frame: str) -> None:
        for conn in list(self.local.values()):
            if conn.role == role:
                conn.push(frame)

    def broadcast(self, frame: str, key: str | None = None, chat_id: int | None = None) -> None:
        """Queue ``frame`` for every local socket; sent at once when idle, batched when busy."""
        if key != "viewer_count":  # the count in a snapshot is the room's, not the shared state's
            self.generation += 1
        if chat_id is not None:
            self.note_chat(chat_id)
        if key is not None:
            self._pending = [p for p in self._pending if p[0] != key]
        if not self._pending:
            self._pending_since = asyncio.get_running_loop().time()
        self._pending.append((key, frame, chat_id))
        if self._flush is not None or self._delivering is not None:
            return  # a flush is due, or the delivery in progress schedules one when it is done
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._last_flush >= BATCH_INTERVAL:
            self.flush()
        else:
            self._flush = loop.call_at(self._last_flush + BATCH_INTERVAL, self.flush)

    def flush(self) -> None:
        self._flush = None
        if self._delivering is not None:
            return  # a delivery is in progress: it flushes again when done
        items, self._pending = self._pending, []
        if not items:
            return
        self._last_flush = asyncio.get_running_loop().time()
        self._batch_since = self._pending_since
        text = items[0][1] if len(items) == 1 else protocol.batch([i[1] for i in items])
        chat_ids = frozenset(i[2] for i in items if i[2] is not None)
        self.flushes += 1
        for chat_id in chat_ids:
            if chat_id in self.chat_known:
                self.chat_flush[chat_id] = self.flushes
        wire = encode_text_frame(text.encode())
        self._deliver(list(self.local.values()), 0, items, text, wire, chat_ids)

    def _deliver(
        self,
        conns: list[Connection],
        start: int,
        items: list[Pending],
        text: str,
        wire: bytes,
        chat_ids: frozenset[int],
    ) -> None:
        """Push to ``conns[start:start + DELIVERY_SLICE]``; schedule the rest for the next turn."""
        self._delivering = None
        end = start + DELIVERY_SLICE
        local = self.local
        for conn in conns[start:end]:
            if local.get(conn.peer_id) is not conn:
                continue  # left the room since the delivery began
            if conn.holding or (chat_ids and not chat_ids.isdisjoint(conn.seen_chat)):
                # joining, or some of these are in its snapshot: per event, dropping duplicates
                for _, frame, chat_id in items:
                    conn.push(frame, chat_id)
            else:
                conn.push(text, None, wire)
        if end < len(conns):
            self._delivering = asyncio.get_running_loop().call_soon(
                self._deliver, conns, end, items, text, wire, chat_ids
            )
            return
        metrics.FANOUT_LAG.observe(asyncio.get_running_loop().time() - self._batch_since)
        if self._pending:
            self._schedule_flush()

    def close(self) -> None:
        for handle in (self._flush, self._delivering):
            if handle is not None:
                handle.cancel()
        self._flush = self._delivering = None
