"""The hub: every socket of this process, the rooms, and what each client message does.

Events reach sockets only through the broker (``global`` and ``show:{id}`` topics), so several
processes sharing Redis behave as one. Client messages are validated by :mod:`liveshop.protocol`;
persistent effects are committed before they are broadcast ("persist before acknowledge").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liveshop import metrics, protocol
from liveshop.broker.base import GLOBAL, Broker, show_topic
from liveshop.domain.ratelimit import TokenBucket
from liveshop.domain.text import clean_chat_text
from liveshop.hub.connection import CLOSE_BANNED, CLOSE_POLICY, Connection
from liveshop.hub.heap import HeapPolicy
from liveshop.hub.room import Room
from liveshop.hub.viewing import ViewingLog
from liveshop.hub.wsproto import encode_text_frame
from liveshop.protocol import ProtocolError
from liveshop.storage import bans, chat, likes, livestreams
from liveshop.storage.engine import Database
from liveshop.storage.errors import NotFound
from liveshop.storage.models import Livestream

log = logging.getLogger(__name__)

RECENT_CHAT = 50
RESUME_CHAT_LIMIT = 500
PRESENCE_REFRESH = 3.0
TICK = 1.0
CHAT_RATE, CHAT_BURST = 1.0, 5.0
BAD_MESSAGE_ERRORS = frozenset({"invalid", "too_large"})


@dataclass(frozen=True, eq=False)
class _ShowState:
    """The part of a join snapshot that is the same for every joiner, as of ``generation``."""

    generation: int
    stream: Livestream
    livestream: dict[str, Any]
    pins: list[dict[str, Any]]
    chat: list[dict[str, Any]]
    chat_ids: frozenset[int]


class Hub:
    """Owns every socket of this process. Created and closed by the app's lifespan."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        node_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.broker, self.node_id, self.clock = db, broker, node_id, clock
        self.connections: set[Connection] = set()
        self.rooms: dict[int, Room] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._global_sub: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._room_locks: dict[int, asyncio.Lock] = {}
        self.viewing = ViewingLog(db)
        self.heap = HeapPolicy()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._global_sub = await self.broker.subscribe(GLOBAL, self._on_global)
        self._ticker = asyncio.create_task(self._tick_loop(), name="hub-ticker")

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for conn in list(self.connections):
            conn.kill(1012, "service restart: reconnect")  # pages come back at once
        if self._global_sub is not None:
            await self._global_sub.close()
        for room in list(self.rooms.values()):
            await self._drop_room(room)
        await self.viewing.flush()
        self.heap.close()

    async def connect(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.heap.grew(len(self.connections))
        conn.start()

    async def disconnect(self, conn: Connection, _code: int = 1000) -> None:
        """Forget ``conn`` (idempotent): leave its room, stop its writer."""
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        await self._leave(conn)
        await conn.stop()

    # -- broker → sockets ------------------------------------------------------------------

    def _on_global(self, data: bytes) -> None:
        try:
            meta, frame = protocol.open_envelope(data)
        except ValueError:
            log.warning("dropped a malformed global envelope")
            return
        if meta.get("t") == "stream_ended":
            room = self.rooms.get(int(meta.get("show", 0)))
            if room is not None:
                room.active = False
        for room in self.rooms.values():  # a show's start, end or edit changes its snapshot
            room.generation += 1
        wire = encode_text_frame(frame.encode())
        for conn in list(self.connections):
            conn.push(frame, None, wire)

    def _on_show(self, room: Room, data: bytes) -> None:
        try:
            meta, frame = protocol.open_envelope(data)
        except ValueError:
            log.warning("dropped a malformed show envelope")
            return
        ctl = meta.get("ctl")
        if ctl is not None:
            self._on_control(room, meta)
            return
        if meta.get("t") == "slow_mode":
            room.slow_mode = int(meta.get("seconds", 0))
        to = meta.get("to")
        if to is not None:
            target = room.local.get(to)
            if target is not None:
                target.push(frame)
            return
        role = meta.get("role")
        if role is not None:
            room.send_to_role(role, frame)
            return
        room.broadcast(frame, meta.get("k"), meta.get("chat"))

    def _on_control(self, room: Room, meta: dict[str, Any]) -> None:
        ctl = meta["ctl"]
        if ctl == "ban":
            user = str(meta.get("user"))
            room.banned.add(user)
            for conn in list(room.local.values()):
                if conn.identity.id == user:
                    conn.kill(
                        CLOSE_BANNED,
                        "banned",
                        protocol.error("banned", "you were removed from this show"),
                    )
        elif ctl == "peer":
            self._on_peer(room, meta)

    def _on_peer(self, room: Room, meta: dict[str, Any]) -> None:
        op, peer, role = meta.get("op"), str(meta.get("peer")), str(meta.get("role"))
        if op == "leave":
            if room.peers.pop(peer, None) == "shopper":
                room.send_to_role("admin", protocol.viewer_left(peer))
            return
        if op == "hello":  # someone needs the directory: announce our local peers
            if meta.get("node") != self.node_id:
                room.peers[peer] = role
            asyncio.get_running_loop().create_task(self._announce(room, reply_to=peer))
            return
        # op == "join"
        is_new = peer not in room.peers
        room.peers[peer] = role
        joined = protocol.viewer_joined(peer)
        if role == "shopper" and is_new:
            room.send_to_role("admin", joined)
        reply_to = meta.get("reply_to")
        target = room.local.get(reply_to) if reply_to else None
        if role == "shopper" and target is not None and target.role == "admin" and not is_new:
            target.push(joined)

    async def _announce(self, room: Room, reply_to: str) -> None:
        for conn in list(room.local.values()):
            if conn.peer_id == reply_to:
                continue
            await self.broker.publish(
                show_topic(room.show_id),
                protocol.envelope(
                    None,
                    ctl="peer",
                    op="join",
                    peer=conn.peer_id,
                    role=conn.role,
                    node=self.node_id,
                    reply_to=reply_to,
                ),
            )

    # -- rooms -----------------------------------------------------------------------------

    async def _room(self, show_id: int) -> Room:
        room = self.rooms.get(show_id)
        if room is not None:
            return room
        lock = self._room_locks.setdefault(show_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(show_id)
            if room is not None:
                return room
            room = Room(show_id)
            async with self.db.session() as session:
                stream = await livestreams.get(session, show_id)
                room.active, room.slow_mode, room.peak = (
                    stream.is_active,
                    stream.slow_mode_seconds,
                    stream.peak_viewers,
                )
                room.banned = await bans.banned_users(session, show_id)
            room.subscription = await self.broker.subscribe(
                show_topic(show_id), functools.partial(self._on_show, room)
            )
            self.rooms[show_id] = room
            return room

    async def _drop_room(self, room: Room) -> None:
        self.rooms.pop(room.show_id, None)
        room.close()
        if room.subscription is not None:
            await room.subscription.close()
        with contextlib.suppress(Exception):
            await self.broker.set_presence(room.show_id, self.node_id, set())

    async def _leave(self, conn: Connection) -> None:
        show_id, conn.show_id = conn.show_id, None
        if show_id is None:
            return
        room = self.rooms.get(show_id)
        if room is None or not room.remove(conn):
            return
        if conn.viewer_session is not None:
            self.viewing.close(conn.viewer_session)
            conn.viewer_session = None
        with contextlib.suppress(Exception):
            await self.broker.publish(
                show_topic(show_id),
                protocol.peer_control("leave", conn.peer_id, conn.role, self.node_id),
            )

    # -- viewer count ----------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.heap.tick(len(self.connections))
            for room in list(self.rooms.values()):
                try:
                    await self._tick(room)
                except Exception:
                    log.exception("viewer count update failed for show %s", room.show_id)
            await self.viewing.flush()

    async def _tick(self, room: Room) -> None:
        """At most once a second per show: refresh presence, recount, tell local sockets."""
        now = self.clock()
        if not room.local:
            if now - room.presence_sent > PRESENCE_REFRESH:
                await self._drop_room(room)
            return
        if room.presence_dirty or now - room.presence_sent >= PRESENCE_REFRESH:
            room.presence_dirty = False
            room.presence_sent = now
            await self.broker.set_presence(room.show_id, self.node_id, set(room.viewers))
        count = await self.broker.presence_count(room.show_id)
        if count == room.count:
            return
        room.count = count
        if count > room.peak and room.active:
            room.peak = count
            async with self.db.session() as session:
                await livestreams.record_peak(session, room.show_id, count)
        room.broadcast(protocol.viewer_count(room.show_id, count, room.peak), key="viewer_count")

    # -- client → server -------------------------------------------------------------------

    async def handle(self, conn: Connection, text: str) -> None:
        """Act on one text frame. Never raises: a refusal becomes an ``error`` for this socket
        only; more than 20 invalid messages a minute close this socket with 1008."""
        try:
            message = protocol.decode_client(text)
            if getattr(message, "type", "") in protocol.SELLER_ONLY and not conn.identity.is_admin:
                raise ProtocolError("forbidden", "only the seller can do that")
            await self._dispatch(conn, message)
        except ProtocolError as exc:
            conn.push(
                protocol.error(exc.code, exc.message, retry_after=exc.retry_after, ref=exc.ref)
            )
            if exc.code in BAD_MESSAGE_ERRORS:
                self.bad_message(conn)
        except Exception:
            log.exception("hub failed on a message from %s", conn.peer_id)
            conn.push(protocol.error("invalid", "the server could not process this message"))

    def bad_message(self, conn: Connection) -> None:
        if conn.bad_messages.hit(self.clock()) > 0:
            conn.kill(CLOSE_POLICY, "too many invalid messages")

    async def _dispatch(self, conn: Connection, msg: protocol.ClientMessage) -> None:
        match msg:
            case protocol.Ping():
                conn.push(protocol.pong())
            case protocol.Join():
                await self._join(conn, msg)
            case protocol.Leave():
                await self._leave(conn)
            case protocol.ChatSend():
                with metrics.chat_outcome():
                    await self._chat_send(conn, msg)
            case protocol.LikeToggle():
                await self._like(conn)
            case protocol.ChatDelete():
                await self._chat_delete(conn, msg)
            case protocol.UserBan():
                await self._ban(conn, msg)
            case protocol.SlowMode():
                await self._slow_mode(conn, msg)
            case protocol.BroadcastStart():
                room = self._joined(conn)
                await self.broker.publish(
                    show_topic(room.show_id), protocol.broadcast_start(room.show_id, conn.peer_id)
                )
            case protocol.Offer():
                await self._signal(conn, msg.type, msg.to, "offer", msg.offer)
            case protocol.Answer():
                await self._signal(conn, msg.type, msg.to, "answer", msg.answer)
            case protocol.IceCandidate():
                await self._signal(conn, msg.type, msg.to, "candidate", msg.candidate)

    def _joined(self, conn: Connection, ref: str | None = None) -> Room:
        room = self.rooms.get(conn.show_id) if conn.show_id is not None else None
        if room is None:
            raise ProtocolError("invalid", "join a show first", ref=ref)
        return room

    async def _join(self, conn: Connection, msg: protocol.Join) -> None:
        try:
            room = await self._room(msg.livestreamId)
        except NotFound:
            raise ProtocolError("not_found", "no such livestream") from None
        if conn.identity.id in room.banned:
            raise ProtocolError("banned", "you were removed from this show")
        await self._leave(conn)
        conn.hold()
        conn.show_id = room.show_id
        room.add(conn)
        try:
            snapshot, seen = await self._snapshot(conn, room, msg.afterMessageId)
        except Exception:
            room.remove(conn)
            conn.show_id = None
            conn.release(protocol.error("invalid", "could not join"), frozenset())
            raise
        # the show's peer directory learns this socket before its owner can act on the snapshot
        topic = show_topic(room.show_id)
        await self.broker.publish(
            topic, protocol.peer_control("join", conn.peer_id, conn.role, self.node_id)
        )
        if conn.role == "admin" or len(room.local) == 1:
            await self.broker.publish(
                topic, protocol.peer_control("hello", conn.peer_id, conn.role, self.node_id)
            )
        conn.release(snapshot, seen)
        if conn.role == "shopper" and room.active:
            conn.viewer_session = self.viewing.open(room.show_id, conn.identity.id)

    async def _show_state(self, room: Room) -> _ShowState:
        """What every joiner's snapshot shares (show, pins, last 50 messages), read once per room
        generation: concurrent joins share one read, later joins reuse it until the next event.

        Lossless: a joiner holds its socket's frames before asking, so an event broadcast after
        that reaches it after the snapshot; a state read (or a read started) before an event
        broadcast since is never used, because that broadcast bumped ``room.generation``."""
        generation = room.generation
        state: _ShowState | None = room.state
        if state is not None and state.generation == generation:
            return state
        loading = room.state_loading
        if loading is None or loading[0] != generation:
            future = asyncio.ensure_future(self._load_state(room.show_id, generation))
            loading = (generation, future)
            room.state_loading = loading
        task = loading[1]
        try:
            loaded: _ShowState = await asyncio.shield(task)
        finally:  # a failed read is not shared with later joins
            if room.state_loading is loading and task.done():
                room.state_loading = None
        if loaded.generation == room.generation:
            room.state = loaded
        return loaded

    async def _load_state(self, show_id: int, generation: int) -> _ShowState:
        async with self.db.session() as session:
            stream = await livestreams.get(session, show_id)
            pins = await livestreams.current_pins(session, show_id)
            messages = await chat.recent(session, show_id, limit=RECENT_CHAT)
        return _ShowState(
            generation=generation,
            stream=stream,
            livestream=protocol.dump(protocol.livestream_out(stream, pins, 0)),
            pins=[protocol.dump(protocol.product_out(p)) for p in pins],
            chat=[protocol.dump(protocol.chat_out(m)) for m in messages],
            chat_ids=frozenset(m.id for m in messages),
        )

    async def _snapshot(
        self, conn: Connection, room: Room, after: int | None
    ) -> tuple[str, frozenset[int]]:
        state = await self._show_state(room)
        truncated = False
        recent, seen = state.chat, state.chat_ids
        async with self.db.session() as session:
            if after is not None:
                messages = await chat.after(
                    session, room.show_id, after_id=after, limit=RESUME_CHAT_LIMIT + 1
                )
                truncated = len(messages) > RESUME_CHAT_LIMIT
                messages = messages[:RESUME_CHAT_LIMIT]
                recent = [protocol.dump(protocol.chat_out(m)) for m in messages]
                seen = frozenset(m.id for m in messages)
            liked = await likes.has_liked(session, room.show_id, conn.identity.id)
        stream = state.stream
        count = max(room.count, 0)
        peak = max(stream.peak_viewers, room.peak, count)
        room.active = stream.is_active
        fields: dict[str, Any] = {
            "livestream": {**state.livestream, "viewerCount": count, "peakViewers": peak},
            "pinnedProducts": state.pins,
            "recentChat": recent,
            "likes": stream.likes,
            "liked": liked,
            "viewerCount": count,
            "peakViewers": peak,
            "peerId": conn.peer_id,
            "slowMode": room.slow_mode,
            "user": conn.identity.public(),
        }
        if after is not None:
            fields["chatTruncated"] = truncated
        return protocol.snapshot(**fields), seen

    async def _chat_send(self, conn: Connection, msg: protocol.ChatSend) -> None:
        ref = msg.clientMessageId
        room = self._joined(conn, ref)
        if not room.active:
            raise ProtocolError("not_live", "the show is not live", ref=ref)
        identity = conn.identity
        if identity.id in room.banned:
            raise ProtocolError("banned", "you were removed from this show", ref=ref)
        text = clean_chat_text(msg.text)
        if text is None:
            raise ProtocolError("invalid", "text must be 1 to 500 characters", ref=ref)
        now = self.clock()
        if not identity.is_admin and room.slow_mode:
            wait = room.last_chat.get(identity.id, -1e9) + room.slow_mode - now
            if wait > 0:
                raise ProtocolError(
                    "slow_mode",
                    f"slow mode: one message every {room.slow_mode} s",
                    retry_after=wait,
                    ref=ref,
                )
        bucket = self._buckets.get(identity.id)
        if bucket is None:
            if len(self._buckets) > 50_000:
                self._buckets.clear()
            bucket = self._buckets[identity.id] = TokenBucket(CHAT_RATE, CHAT_BURST)
        wait = bucket.take(now)
        if wait > 0:
            raise ProtocolError(
                "rate_limited", "you are sending messages too fast", retry_after=wait, ref=ref
            )
        room.last_chat[identity.id] = now
        async with self.db.session() as session:
            row = await chat.add(
                session,
                livestream_id=room.show_id,
                user_id=identity.id,
                user_name=identity.name,
                user_role=identity.role,
                text=text,
                client_message_id=ref,
            )
        await self.broker.publish(
            show_topic(room.show_id), protocol.chat_message(protocol.dump(protocol.chat_out(row)))
        )

    async def _like(self, conn: Connection) -> None:
        room = self._joined(conn)
        if not room.active:
            raise ProtocolError("not_live", "the show is not live")
        async with self.db.session() as session:
            liked, total = await likes.toggle(session, room.show_id, conn.identity.id)
        conn.push(protocol.like_state(room.show_id, liked, total))
        await self.broker.publish(
            show_topic(room.show_id), protocol.likes_update(room.show_id, total)
        )

    async def _chat_delete(self, conn: Connection, msg: protocol.ChatDelete) -> None:
        room = self._joined(conn)
        async with self.db.session() as session:
            ids = await chat.delete_ids(session, room.show_id, [msg.messageId])
        if not ids:
            raise ProtocolError("not_found", "no such message in this show")
        await self.broker.publish(
            show_topic(room.show_id), protocol.chat_deleted(room.show_id, ids)
        )

    async def _ban(self, conn: Connection, msg: protocol.UserBan) -> None:
        room = self._joined(conn)
        if msg.userId == conn.identity.id:
            raise ProtocolError("invalid", "you cannot ban yourself")
        async with self.db.session() as session:
            await bans.ban(session, room.show_id, msg.userId)
            ids = (
                await chat.delete_by_user(session, room.show_id, msg.userId)
                if msg.deleteMessages
                else []
            )
        topic = show_topic(room.show_id)
        await self.broker.publish(topic, protocol.banned(room.show_id, msg.userId))
        if ids:
            await self.broker.publish(topic, protocol.chat_deleted(room.show_id, ids))

    async def _slow_mode(self, conn: Connection, msg: protocol.SlowMode) -> None:
        room = self._joined(conn)
        async with self.db.session() as session:
            stream = await livestreams.get(session, room.show_id)
            stream.slow_mode_seconds = msg.seconds
        await self.broker.publish(
            show_topic(room.show_id), protocol.slow_mode(room.show_id, msg.seconds)
        )

    async def _signal(self, conn: Connection, kind: str, to: str, key: str, payload: Any) -> None:
        room = self._joined(conn)
        role = room.peers.get(to)
        if role is None or to == conn.peer_id:
            raise ProtocolError("not_found", "no such peer in this show")
        if not conn.identity.is_admin and role != "admin":
            raise ProtocolError("forbidden", "shoppers may only signal the seller")
        if len(protocol.encode({"p": payload})) > protocol.MAX_FRAME_BYTES:
            raise ProtocolError("too_large", "signalling payload too large")
        await self.broker.publish(
            show_topic(room.show_id), protocol.signal(kind, conn.peer_id, to, key, payload)
        )
