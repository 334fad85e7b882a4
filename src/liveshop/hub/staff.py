"""What the shop's staff (the seller and moderators) may do in a show: delete messages, ban and
unban, set slow mode and the new-shopper wait — and how every hub applies a ban it hears of.

Each action is committed before it is announced through the broker, so every process (this one
included) applies it from the same message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from liveshop import protocol
from liveshop.broker.base import Broker, show_topic
from liveshop.hub import figures
from liveshop.hub.connection import CLOSE_BANNED
from liveshop.hub.room import Room
from liveshop.protocol import ProtocolError
from liveshop.storage import bans, chat, livestreams
from liveshop.storage.engine import Database

log = logging.getLogger(__name__)


class StaffActions:
    """Staff messages of one hub; callers have checked the sender is staff and joined ``room``."""

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db, self.broker = db, broker
        self._tasks: set[asyncio.Task[None]] = set()
        # (show, user) → this process's write of the addresses banned with that user's ban
        self._storing: dict[tuple[int, str], asyncio.Task[None]] = {}

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def on_control(self, room: Room, meta: dict[str, Any]) -> bool:
        """Apply a ``ban``/``unban`` control from the broker to ``room``; False for other verbs."""
        ctl = meta["ctl"]
        if ctl == "ban":
            user = str(meta.get("user"))
            room.banned.add(user)
            addresses = (
                {c.address for c in room.local.values() if c.identity.id == user}
                if meta.get("addresses")
                else set()
            )
            if addresses:
                room.banned_addresses.update(dict.fromkeys(addresses, user))
                key = (room.show_id, user)
                if len(self._storing) > 10_000:  # bans never lifted: forget the oldest writes
                    self._storing.clear()
                self._storing[key] = self._spawn(
                    self._store_address_bans(room.show_id, user, addresses)
                )
            for conn in list(room.local.values()):
                staff = conn.identity.is_staff  # an address ban never shuts the shop's staff out
                if conn.identity.id == user or (conn.address in addresses and not staff):
                    conn.kill(
                        CLOSE_BANNED,
                        "banned",
                        protocol.error("banned", "you were removed from this show"),
                    )
        elif ctl == "unban":
            user = str(meta.get("user"))
            room.banned.discard(user)
            for address in [a for a, u in room.banned_addresses.items() if u == user]:
                del room.banned_addresses[address]
            self._spawn(self._lift(room, user))
        else:
            return False
        return True

    async def chat_delete(self, room: Room, sender: str, msg: protocol.ChatDelete) -> None:
        async with self.db.session() as session:
            ids = await chat.delete_ids(session, room.show_id, [msg.messageId])
        if not ids:
            raise ProtocolError("not_found", "no such message in this show")
        await self.broker.publish(
            show_topic(room.show_id), protocol.chat_deleted(room.show_id, ids)
        )

    async def ban(self, room: Room, sender: str, msg: protocol.UserBan) -> None:
        if msg.userId == sender:
            raise ProtocolError("invalid", "you cannot ban yourself")
        async with self.db.session() as session:
            await bans.ban(session, room.show_id, msg.userId)
            ids = (
                await chat.delete_by_user(session, room.show_id, msg.userId)
                if msg.deleteMessages
                else []
            )
        topic = show_topic(room.show_id)
        await self.broker.publish(
            topic, protocol.banned(room.show_id, msg.userId, addresses=msg.banAddress)
        )
        if ids:
            await self.broker.publish(topic, protocol.chat_deleted(room.show_id, ids))

    async def unban(self, room: Room, sender: str, msg: protocol.UserUnban) -> None:
        async with self.db.session() as session:
            lifted = await bans.unban(session, room.show_id, msg.userId)
        if not lifted:
            raise ProtocolError("not_found", "this user is not banned from this show")
        await self.broker.publish(
            show_topic(room.show_id), protocol.unbanned(room.show_id, msg.userId)
        )

    async def new_shopper_wait(self, room: Room, sender: str, msg: protocol.NewShopperWait) -> None:
        async with self.db.session() as session:
            stream = await livestreams.get(session, room.show_id)
            stream.new_shopper_wait_seconds = msg.seconds
        await self.broker.publish(
            show_topic(room.show_id), protocol.new_shopper_wait(room.show_id, msg.seconds)
        )

    async def slow_mode(self, room: Room, sender: str, msg: protocol.SlowMode) -> None:
        async with self.db.session() as session:
            rev = await livestreams.set_slow_mode(session, room.show_id, msg.seconds)
        update = protocol.slow_mode(room.show_id, msg.seconds, rev)
        if room.offer(figures.SLOW_MODE, rev, protocol.open_envelope(update)[1]):
            room.slow_mode = msg.seconds
        await self.broker.publish(show_topic(room.show_id), update)

    async def _store_address_bans(self, show_id: int, user: str, addresses: set[str]) -> None:
        """Persist the addresses this process found for a ban (each process stores its own)."""
        try:
            async with self.db.session() as session:
                for address in addresses:
                    await bans.ban_address(session, show_id, address, user)
        except Exception:
            log.exception("could not store address bans for show %s", show_id)

    async def _lift(self, room: Room, user: str) -> None:
        """After an unban: if this process was still writing the addresses banned with that
        user's ban, let it finish and remove them again; then reload the room's bans."""
        storing = self._storing.pop((room.show_id, user), None)
        if storing is not None:
            await asyncio.gather(storing, return_exceptions=True)
            try:
                async with self.db.session() as session:
                    await bans.unban(session, room.show_id, user)
            except Exception:
                log.exception("could not lift address bans for show %s", room.show_id)
        await self._reload_bans(room)

    async def _reload_bans(self, room: Room) -> None:
        try:
            async with self.db.session() as session:
                room.banned = await bans.banned_users(session, room.show_id)
                room.banned_addresses = await bans.banned_addresses(session, room.show_id)
        except Exception:
            log.exception("could not reload the bans of show %s", room.show_id)
