"""One client socket: identity, bounded send queue, and the writer that drains it.

Fan-out never waits on a client: ``push`` writes the encoded frame straight to the socket when
nothing is queued and the transport is not paused (the server's ``liveshop.frames`` extension,
see :mod:`liveshop.hub.wsproto`), else appends to the queue. The writer task sends what is queued
through ASGI, several frames as one ``batch`` frame when it fell behind. A client whose queue
passes the bound is closed with 1013 (try again later) and resumes by reconnecting with
``afterMessageId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Protocol

from liveshop import metrics, protocol
from liveshop.domain.identity import Identity
from liveshop.domain.ratelimit import SlidingWindow, TokenBucket
from liveshop.hub.wsproto import encode_text_frame

if TYPE_CHECKING:
    from liveshop.hub.viewing import Visit

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 512
MAX_QUEUED_BYTES = 2 * 1024 * 1024
CLOSE_TRY_AGAIN = 1013
CLOSE_POLICY = 1008
CLOSE_UNAUTHORIZED = 4401
CLOSE_BANNED = 4403


class Transport(Protocol):
    """What a connection needs from the socket (Starlette's WebSocket fits)."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class _Resume:
    """Await the rest of a coroutine that was started by hand and suspended on ``awaited``."""

    def __init__(self, coro: Coroutine[Any, Any, None], awaited: Any) -> None:
        self.coro, self.awaited = coro, awaited

    def __await__(self) -> Generator[Any, Any, None]:
        awaited = self.awaited
        while True:
            try:
                value = yield awaited
            except BaseException as exc:  # cancellation or an error from the awaited future
                try:
                    awaited = self.coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    awaited = self.coro.send(value)
                except StopIteration:
                    return


async def _finish(coro: Coroutine[Any, Any, None], awaited: Any) -> None:
    await _Resume(coro, awaited)


def new_peer_id() -> str:
    return "p_" + secrets.token_hex(6)


class Connection:
    """A socket in the hub. ``push`` is synchronous and never blocks; ordering is FIFO."""

    __slots__ = (
        "_busy",
        "_bytes",
        "_closed",
        "_held",
        "_inflight",
        "_on_close",
        "_queue",
        "_wakeup",
        "_write_frame",
        "_writer",
        "address",
        "bad_messages",
        "buckets",
        "first_flush",
        "identity",
        "joined_at",
        "media_session",
        "peer_id",
        "refusals",
        "seen_chat",
        "show_id",
        "transport",
        "viewer_session",
    )

    def __init__(
        self,
        transport: Transport,
        identity: Identity,
        on_close: Callable[[Connection, int], Awaitable[None]] | None = None,
        write_frame: Callable[[bytes], bool] | None = None,
        address: str = "unknown",
    ) -> None:
        self.transport = transport
        self.address = address  # the client's (client_address.py), for per-address rules
        self.joined_at = 0.0  # hub clock of its identity's first join to its show
        # the server's ``liveshop.frames`` extension (hub.wsproto), when it has one
        self._write_frame = write_frame
        self.identity = identity
        self.peer_id = new_peer_id()
        self.show_id: int | None = None
        self.media_session: str | None = None  # the WHEP session its page watches through
        self.bad_messages = SlidingWindow(limit=20, window=60.0)
        # per-socket budgets by message kind (likes, signalling), created on first use
        self.buckets: dict[str, TokenBucket] = {}
        self.refusals: SlidingWindow | None = None  # "wait" refusals, counted from the first
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        self._held: list[tuple[str, int | None]] | None = None
        self.seen_chat: frozenset[int] = frozenset()
        self.first_flush = 0  # the first of its room's flushes delivered to it (Room.add)
        self.viewer_session: Visit | None = None  # for the show report, while watching
        self._on_close = on_close
        self._writer: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None  # an eager send the transport paused
        self._busy = False  # a send is in progress (ordering: nothing may overtake it)

    @property
    def role(self) -> str:
        """``admin`` for sellers, ``shopper`` for everyone else (routing roles)."""
        return "admin" if self.identity.is_admin else "shopper"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def writes_frames(self) -> bool:
        """True when frames go straight to the socket (the server has ``liveshop.frames``)."""
        return self._write_frame is not None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.peer_id}")

    # -- sending ---------------------------------------------------------------------------

    @property
    def holding(self) -> bool:
        return self._held is not None

    def push(self, frame: str, chat_id: int | None = None, wire: bytes | None = None) -> None:
        """Send or queue ``frame``; ``wire`` is its encoded WebSocket frame when the caller has it
        (a broadcast encodes once for every socket). While a join is being answered, frames are
        held and released after the snapshot (chat messages already in it are dropped, so nothing
        arrives twice)."""
        if self._closed:
            return
        if self._held is not None:
            self._held.append((frame, chat_id))
            return
        if chat_id is not None and chat_id in self.seen_chat:
            return
        if len(self._queue) >= MAX_QUEUED_FRAMES or self._bytes + len(frame) > MAX_QUEUED_BYTES:
            metrics.SLOW_CLOSED.inc()
            self.kill(CLOSE_TRY_AGAIN, "too slow: reconnect to resume")
            return
        if not self._queue and not self._busy and self._writer is not None:
            write = self._write_frame
            if write is None:
                self._send_eagerly(frame)
                return
            if write(wire if wire is not None else encode_text_frame(frame.encode())):
                return
            # the transport is paused (or closing): queue; the writer sends through ASGI,
            # which waits for the socket to drain
        self._queue.append(frame)
        self._bytes += len(frame)
        self._wakeup.set()

    def _send_eagerly(self, frame: str) -> None:
        """Send at once, without waking the writer task: the common case (the socket keeps up)
        completes without suspending. If the transport is paused, the rest of the send runs as a
        task and everything pushed meanwhile queues behind it, in order."""
        send = self.transport.send_text(frame)
        try:
            awaited = send.send(None)
        except StopIteration:
            return
        except Exception as exc:
            log.debug("eager send to %s failed: %s", self.peer_id, exc)
            self._closed = True
            return
        self._busy = True
        self._inflight = asyncio.get_running_loop().create_task(_finish(send, awaited))
        self._inflight.add_done_callback(self._inflight_done)

    def _inflight_done(self, task: asyncio.Task[None]) -> None:
        self._busy = False
        self._inflight = None
        if not task.cancelled() and task.exception() is not None:
            self._closed = True
            return
        if self._queue:
            self._wakeup.set()

    def hold(self) -> None:
        """Start holding pushed frames (a join snapshot is being prepared)."""
        self._held = []

    def release(self, snapshot: str, snapshot_chat: frozenset[int]) -> None:
        """Send ``snapshot`` first, then what was held; from now on chat messages whose ids are in
        ``snapshot_chat`` (already in the snapshot) are dropped, so none arrives twice."""
        held, self._held = self._held or [], None
        self.seen_chat = snapshot_chat
        self.push(snapshot)
        for frame, chat_id in held:
            self.push(frame, chat_id)

    async def _write_loop(self) -> None:
        try:
            while not self._closed:
                await self._wakeup.wait()
                self._wakeup.clear()
                if self._inflight is not None:  # its done-callback wakes us again
                    continue
                while self._queue:
                    if len(self._queue) == 1:
                        text = self._queue.popleft()
                        self._bytes -= len(text)
                    else:  # behind: merge what is queued, up to a bounded frame size
                        frames = [self._queue.popleft()]
                        size = len(frames[0])
                        while (
                            self._queue
                            and len(frames) < protocol.MAX_BATCH_EVENTS
                            and size + len(self._queue[0]) <= protocol.MAX_BATCH_CHARS
                        ):
                            frames.append(self._queue.popleft())
                            size += len(frames[-1])
                        self._bytes -= size
                        text = protocol.merge(frames) if len(frames) > 1 else frames[0]
                    self._busy = True
                    try:
                        await self.transport.send_text(text)
                    finally:
                        self._busy = False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away: the reader notices and cleans up
            log.debug("writer for %s stopped: %s", self.peer_id, exc)
            self._closed = True

    # -- closing ---------------------------------------------------------------------------

    def kill(self, code: int, reason: str, last: str | None = None) -> None:
        """Close from anywhere without waiting (used by fan-out and moderation); ``last`` is a
        final frame sent just before the close frame."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        asyncio.get_running_loop().create_task(self._close(code, reason, last))

    async def _close(self, code: int, reason: str, last: str | None = None) -> None:
        if self._inflight is not None:
            self._inflight.cancel()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        if last is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.transport.send_text(last), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.transport.close(code, reason), 2.0)
        if self._on_close is not None:
            await self._on_close(self, code)

    async def stop(self) -> None:
        """Stop the writer (the socket is already closed by the peer or the server)."""
        self._closed = True
        if self._inflight is not None:
            self._inflight.cancel()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
