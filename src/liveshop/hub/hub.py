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
from typing import Any

from liveshop import metrics, protocol
from liveshop.broker.base import GLOBAL, Broker, BrokerUnavailable, show_topic
from liveshop.domain.ratelimit import SlidingWindow, TokenBucket
from liveshop.domain.text import clean_chat_text
from liveshop.hub import chat_sweep, figures
from liveshop.hub.connection import CLOSE_POLICY, CLOSE_UNAUTHORIZED, Connection
from liveshop.hub.heap import HeapPolicy
from liveshop.hub.moderation import (
    AddressBudgets,
    check_text,
    check_watched,
)
from liveshop.hub.outage import BrokerOutage
from liveshop.hub.room import Room
from liveshop.hub.snapshot import Snapshots
from liveshop.hub.staff import StaffActions
from liveshop.hub.viewing import ViewingLog
from liveshop.hub.wsproto import encode_text_frame
from liveshop.protocol import ProtocolError
from liveshop.quota.base import Quotas
from liveshop.quota.memory import MemoryQuotas
from liveshop.storage import bans, chat, likes, livestreams, users
from liveshop.storage.engine import Database
from liveshop.storage.errors import Conflict, NotFound, Unavailable
from liveshop.storage.models import ChatMessage
from liveshop.storage.shop_settings import ModerationSettings, load_moderation

log = logging.getLogger(__name__)

PRESENCE_REFRESH = 3.0
TICK = 1.0
ACCOUNT_CHECK = 5  # ticks between checks that open sockets' accounts still hold
CHAT_RATE, CHAT_BURST = 1.0, 5.0
# per socket: a like is a database write; signalling is a few dozen messages per connection set-up
SOCKET_BUDGETS = {"like": (2.0, 5.0), "signal": (10.0, 60.0)}
BAD_MESSAGE_ERRORS = frozenset({"invalid", "too_large"})
# refusals that say "wait": a socket that keeps sending through REFUSALS_PER_MINUTE of them is
# a flood, closed with 1008 (its owner may reconnect; per-address budgets still hold)
WAIT_ERRORS = frozenset({"rate_limited", "slow_mode", "too_new", "blocked"})
REFUSALS_PER_MINUTE = 60


class Hub:
    """Owns every socket of this process. Created and closed by the app's lifespan."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        node_id: str,
        clock: Callable[[], float] = time.monotonic,
        *,
        quotas: Quotas | None = None,
        address_budgets: dict[str, int] | None = None,
        trusted_after: float = 0.0,
    ) -> None:
        self.db, self.broker, self.node_id, self.clock = db, broker, node_id, clock
        self.budgets = AddressBudgets(quotas or MemoryQuotas(), address_budgets or {})
        self.moderation = ModerationSettings()
        self.trusted_after = trusted_after  # seconds watched before a like counts
        self.connections: set[Connection] = set()
        self.rooms: dict[int, Room] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._global_sub: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self._syncer: asyncio.Task[None] | None = None
        self.show_revs = figures.ShowRevisions()
        self._recounts: set[asyncio.Task[None]] = set()
        self.figure_sync = figures.FigureSync(db)
        self._room_locks: dict[int, asyncio.Lock] = {}
        self.viewing = ViewingLog(db)
        self.snapshots = Snapshots(db)
        self.staff = StaffActions(db, broker)
        self.heap = HeapPolicy()
        self.outage = BrokerOutage(
            db, lambda: self.rooms.values(), self._tick, self._announce_catch_up
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.moderation = await load_moderation(self.db)
        self.broker.watch(self.outage.on_state)
        self._global_sub = await self.broker.subscribe(GLOBAL, self._on_global)
        self._ticker = asyncio.create_task(self._tick_loop(), name="hub-ticker")
        self._syncer = asyncio.create_task(
            self.figure_sync.run(lambda: self.rooms.values()), name="hub-figure-sync"
        )

    async def close(self) -> None:
        for task in (self._ticker, self._syncer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.outage.close()
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
        if meta.get("ctl") == "revoked":
            self._close_revoked({str(meta.get("user"))})
            return
        if meta.get("ctl") == "moderation":
            asyncio.get_running_loop().create_task(self._reload_moderation())
            return
        show, rev = int(meta.get("show", 0)), meta.get("v")
        if rev is not None and not self.show_revs.offer(show, int(rev)):
            return  # older than a show event already passed on (figures rule)
        room = self.rooms.get(show)
        skip_room = False
        if room is not None and rev is not None:
            skip_room = not room.figures.offer(figures.SHOW, int(rev), frame)
        if meta.get("t") == "stream_ended" and room is not None and not skip_room:
            room.active = False
        for each in self.rooms.values():  # a show's start, end or edit changes its snapshot
            each.generation += 1
        wire = encode_text_frame(frame.encode())
        for conn in list(self.connections):
            if not (skip_room and conn.show_id == show):
                conn.push(frame, None, wire)
        if room is not None and rev is not None and not skip_room:
            figures.reassert(room, int(rev))

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
        rev = meta.get("v")
        if rev is not None:  # a live figure: the newest by revision wins (hub.figures)
            if room.offer(str(meta.get("k")), int(rev), frame) and meta.get("t") == "slow_mode":
                room.slow_mode = int(meta.get("seconds", 0))
            return
        if meta.get("t") == "slow_mode":
            room.slow_mode = int(meta.get("seconds", 0))
        elif meta.get("t") == "new_shopper_wait":
            room.new_shopper_wait = int(meta.get("seconds", 0))
        whep = meta.get("whep")
        if whep is not None:  # about one WHEP session: only for the socket watching through it
            watcher = room.media_sessions.get(str(whep))
            if watcher is not None:
                watcher.push(frame)
            return
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
        chat_id = meta.get("chat")
        if chat_id is not None and room.passed_on(chat_id):
            return  # a resend's second broadcast of a message this room passed on already
        room.broadcast(frame, meta.get("k"), chat_id)

    async def _reload_moderation(self) -> None:
        try:
            self.moderation = await load_moderation(self.db)
        except Exception:
            log.exception("could not reload the moderation settings")

    def _on_control(self, room: Room, meta: dict[str, Any]) -> None:
        ctl = meta["ctl"]
        if self.staff.on_control(room, meta):
            return
        if ctl == "peer":
            self._on_peer(room, meta)
        elif ctl == "catchup" and meta.get("node") != self.node_id:
            self.outage.catch_up_from(room, int(meta.get("after", 0)))
        elif ctl == "presence" and meta.get("node") != self.node_id and room.local:
            # another process changed who watches: recount now, not at our next tick
            task = asyncio.get_running_loop().create_task(self._recount_quietly(room))
            self._recounts.add(task)
            task.add_done_callback(self._recounts.discard)

    async def _announce_catch_up(self, room: Room, after: int) -> None:
        await self.broker.publish(
            show_topic(room.show_id), protocol.chat_catch_up(after, self.node_id)
        )

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

    def _close_revoked(self, user_ids: set[str]) -> None:
        for conn in list(self.connections):
            if conn.identity.id in user_ids:
                conn.kill(
                    CLOSE_UNAUTHORIZED,
                    "token revoked",
                    protocol.error("unauthorized", "your session was revoked; log in again"),
                )

    async def _check_accounts(self) -> None:
        """Close the sockets of accounts whose tokens were revoked or that no longer exist (the
        CLI's ``token revoke`` reaches no broker; this catches it within :data:`ACCOUNT_CHECK`)."""
        held = {
            c.identity.id: c.identity.version for c in self.connections if not c.identity.is_guest
        }
        if not held:
            return
        async with self.db.session() as session:
            current = await users.token_versions(session, list(held))
        self._close_revoked({i for i, v in held.items() if current.get(i) != v})

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
                room.banned_addresses = await bans.banned_addresses(session, show_id)
                room.new_shopper_wait = stream.new_shopper_wait_seconds
                room.chat_high = room.made_after = await chat.last_id(session, show_id)
            if self.broker.state != "ok":  # other processes' chat of the outage: read it after
                self.outage.mark(room)
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
        ticks = 0
        while True:
            await asyncio.sleep(TICK)
            ticks += 1
            self.heap.tick(len(self.connections))
            # other processes' chat may miss this one: look for it in the database
            sweep = self.broker.shared and ticks % chat_sweep.SWEEP_EVERY == 0
            if ticks % ACCOUNT_CHECK == 0:
                try:
                    await self._check_accounts()
                except Exception:
                    log.exception("checking open sockets' accounts failed")
            for room in list(self.rooms.values()):
                try:
                    if room.resume_after is not None:
                        await self.outage.resume(room)
                    elif sweep and room.local and self.broker.state == "ok":
                        await chat_sweep.sweep(self.db, room)
                    await self._tick(room)
                except Unavailable as exc:
                    log.warning("viewer count of show %s not stored: %s", room.show_id, exc)
                except Exception:
                    log.exception("viewer count update failed for show %s", room.show_id)
            await self.viewing.flush()

    async def _tick(self, room: Room) -> None:
        """Once a second per show: write presence if it changed (and hint the other processes),
        recount, tell local sockets."""
        now = self.clock()
        if not room.local and not room.presence_dirty:
            if now - room.presence_sent > PRESENCE_REFRESH:
                await self._drop_room(room)
            return
        if room.presence_dirty or now - room.presence_sent >= PRESENCE_REFRESH:
            changed, room.presence_dirty = room.presence_dirty, False
            try:
                await self.broker.set_presence(room.show_id, self.node_id, set(room.viewers))
            except BrokerUnavailable:  # written (and hinted) once the broker is back
                room.presence_dirty = True
                return
            room.presence_sent = now
            if changed:  # the other processes recount now rather than at their next tick
                await self.broker.publish(
                    show_topic(room.show_id),
                    protocol.envelope(None, ctl="presence", node=self.node_id),
                )
        if room.local:
            await self._recount(room)

    async def _recount_quietly(self, room: Room) -> None:
        try:
            await self._recount(room)
        except Unavailable as exc:
            log.warning("peak viewers of show %s not stored: %s", room.show_id, exc)
        except Exception:
            log.exception("viewer count update failed for show %s", room.show_id)

    async def _recount(self, room: Room) -> None:
        """Read the show's viewer count; tell local sockets if it changed. Reads may overlap (a
        tick and another process's hint): the one started last wins (``Room.counted``). While
        the broker is away the count stays as it was (it cannot be read)."""
        room.count_reads += 1
        read = room.count_reads
        try:
            count = await self.broker.presence_count(room.show_id)
        except BrokerUnavailable:
            return
        peak = max(room.peak, count) if room.active else room.peak
        if not room.counted(read, count, peak) or peak == room.peak:
            return
        room.peak = peak
        async with self.db.session() as session:
            await livestreams.record_peak(session, room.show_id, peak)

    # -- client → server -------------------------------------------------------------------

    async def handle(self, conn: Connection, text: str) -> None:
        """Act on one text frame. Never raises: a refusal becomes an ``error`` for this socket
        only; more than 20 invalid messages a minute close this socket with 1008."""
        message: Any = None
        try:
            message = protocol.decode_client(text)
            kind = getattr(message, "type", "")
            if kind in protocol.SELLER_ONLY and not conn.identity.is_admin:
                raise ProtocolError("forbidden", "only the seller can do that")
            if kind in protocol.STAFF_ONLY and not conn.identity.is_staff:
                raise ProtocolError("forbidden", "only the seller or a moderator can do that")
            await self._dispatch(conn, message)
        except ProtocolError as exc:
            conn.push(
                protocol.error(exc.code, exc.message, retry_after=exc.retry_after, ref=exc.ref)
            )
            if exc.code in BAD_MESSAGE_ERRORS:
                self.bad_message(conn)
            elif exc.code in WAIT_ERRORS:
                self._refused(conn)
        except Unavailable as exc:  # nothing was stored: the sender may send it again
            log.warning("refused a message from %s: %s", conn.peer_id, exc)
            conn.push(
                protocol.error(
                    "unavailable",
                    "the service is briefly unavailable; try again",
                    retry_after=Unavailable.retry_after,
                    ref=getattr(message, "clientMessageId", None),
                )
            )
        except Exception:
            log.exception("hub failed on a message from %s", conn.peer_id)
            conn.push(protocol.error("invalid", "the server could not process this message"))

    def _refused(self, conn: Connection) -> None:
        if conn.refusals is None:
            conn.refusals = SlidingWindow(limit=REFUSALS_PER_MINUTE, window=60.0)
        if conn.refusals.hit(self.clock()) > 0:
            conn.kill(CLOSE_POLICY, "too many refused messages")

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
                await self.staff.chat_delete(self._joined(conn), conn.identity.id, msg)
            case protocol.UserBan():
                await self.staff.ban(self._joined(conn), conn.identity.id, msg)
            case protocol.SlowMode():
                await self.staff.slow_mode(self._joined(conn), conn.identity.id, msg)
            case protocol.UserUnban():
                await self.staff.unban(self._joined(conn), conn.identity.id, msg)
            case protocol.NewShopperWait():
                await self.staff.new_shopper_wait(self._joined(conn), conn.identity.id, msg)
            case protocol.BroadcastStart():
                room = self._joined(conn)
                await self.broker.publish(
                    show_topic(room.show_id), protocol.broadcast_start(room.show_id, conn.peer_id)
                )
            case protocol.Watching():
                self._joined(conn).watching(conn, msg.sessionId)
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
        banned_address = conn.address in room.banned_addresses and not conn.identity.is_staff
        if conn.identity.id in room.banned or banned_address:
            raise ProtocolError("banned", "you were removed from this show")
        await self._leave(conn)
        # an identity's watching time counts from its first join here, not from its latest socket
        conn.joined_at = room.first_seen.setdefault(conn.identity.id, self.clock())
        conn.hold()
        conn.show_id = room.show_id
        room.add(conn)
        try:
            snapshot, seen = await self.snapshots.build(conn, room, msg.afterMessageId)
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
            conn.viewer_session = self.viewing.open(room.show_id, conn.identity.id, conn.address)

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
        check_text(self.moderation, identity, text, ref)
        now = self.clock()
        check_watched(identity, now - conn.joined_at, room.new_shopper_wait, "chat", ref)
        if not identity.is_staff and room.slow_mode:
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
        await self.budgets.spend("chat", conn.address, ref)
        room.last_chat[identity.id] = now
        try:
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
        except Conflict:  # resent after a reconnect (to this process or another): stored once
            async with self.db.session() as session:
                sent = await chat.find_sent(session, room.show_id, identity.id, ref or "")
            if sent is None:
                raise
            self._acknowledge_resend(conn, room, sent)
            if sent.deleted_at is not None:
                return
            # its first broadcast may be lost (the process that stored it stopped between the
            # commit and the publish): sent again, and rooms that had it drop this copy
            row = sent
        await self.broker.publish(
            show_topic(room.show_id), protocol.chat_message(protocol.dump(protocol.chat_out(row)))
        )

    @staticmethod
    def _acknowledge_resend(conn: Connection, room: Room, sent: ChatMessage) -> None:
        """Echo the stored ``sent`` to the socket that resent it, unless its broadcast was already
        delivered to that socket; a broadcast still to come is then dropped for that socket, so
        the message arrives there once whichever comes first."""
        if room.delivered(conn, sent.id):
            return  # its broadcast reached this socket: it has it
        echo = protocol.chat_message(protocol.dump(protocol.chat_out(sent)))
        conn.push(protocol.open_envelope(echo)[1])
        conn.seen_chat = conn.seen_chat | {sent.id}

    def _spend(self, conn: Connection, kind: str) -> None:
        """Take one token of ``conn``'s budget for ``kind``; ``rate_limited`` when it is empty."""
        bucket = conn.buckets.get(kind)
        if bucket is None:
            rate, burst = SOCKET_BUDGETS[kind]
            bucket = conn.buckets[kind] = TokenBucket(rate, burst)
        wait = bucket.take(self.clock())
        if wait > 0:
            raise ProtocolError("rate_limited", f"too many {kind} messages", retry_after=wait)

    async def _like(self, conn: Connection) -> None:
        self._spend(conn, "like")
        room = self._joined(conn)
        if not room.active:
            raise ProtocolError("not_live", "the show is not live")
        wait = max(self.trusted_after, float(room.new_shopper_wait))
        check_watched(conn.identity, self.clock() - conn.joined_at, wait, "like")
        await self.budgets.spend("like", conn.address)
        async with self.db.session() as session:
            liked, total, rev = await likes.toggle(session, room.show_id, conn.identity.id)
        conn.push(protocol.like_state(room.show_id, liked, total, rev))
        update = protocol.likes_update(room.show_id, total, rev)
        if not room.offer(figures.LIKES, rev, protocol.open_envelope(update)[1]):
            newer = room.figures.get(figures.LIKES)  # this socket must end on the newest
            if newer is not None:
                conn.push(newer.frame)
        await self.broker.publish(show_topic(room.show_id), update)

    async def _signal(self, conn: Connection, kind: str, to: str, key: str, payload: Any) -> None:
        self._spend(conn, "signal")
        await self.budgets.spend("signal", conn.address)
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
