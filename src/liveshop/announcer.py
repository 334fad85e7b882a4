"""How a change reaches every process and every socket: broker topics and read-cache invalidation.

REST handlers and the media event handler tell the world only through an :class:`Announcer`
(``api`` never touches the hub or a socket). Every method is called after the change is committed
("persist before you acknowledge"), so whoever receives an event can read the new state.
"""

from __future__ import annotations

from liveshop import protocol
from liveshop.broker.base import GLOBAL, Broker, BrokerUnavailable, Subscription, show_topic
from liveshop.cache import ResponseCache
from liveshop.protocol import LivestreamOut
from liveshop.storage import livestreams
from liveshop.storage.engine import Database

SHOWS = "livestreams"
MAX_REMEMBERED = 10_000  # read-cache group of every answer that contains a show


class Announcer:
    """Publishes events and invalidates read caches. Owned by the app's lifespan."""

    def __init__(self, db: Database, broker: Broker, cache: ResponseCache) -> None:
        self.db, self.broker, self.cache = db, broker, cache
        self._subscription: Subscription | None = None
        self._counts: dict[int, int] = {}  # last viewer count read per show (broker outages)

    async def start(self) -> None:
        """Follow other processes' invalidations (this process's own are applied at once too)."""
        self._subscription = await self.broker.subscribe(protocol.CACHE_TOPIC, self._on_cache)

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    def _on_cache(self, data: bytes) -> None:
        self.cache.invalidate(*protocol.open_cache_invalidate(data))

    async def to_everyone(self, envelope: bytes) -> None:
        """Deliver ``envelope`` to every connected socket of every process."""
        await self.broker.publish(GLOBAL, envelope)

    async def to_show(self, livestream_id: int, envelope: bytes) -> None:
        """Deliver ``envelope`` to every socket in the show, in every process."""
        await self.broker.publish(show_topic(livestream_id), envelope)

    async def invalidate(self, *groups: str) -> None:
        """Drop cached reads of ``groups`` here at once and, through the broker, everywhere."""
        self.cache.invalidate(*groups)
        await self.broker.publish(protocol.CACHE_TOPIC, protocol.cache_invalidate(groups))

    async def account_revoked(self, user_id: str) -> None:
        """Close every open socket of ``user_id`` in every process (call after the change that
        revoked their tokens is committed)."""
        await self.to_everyone(protocol.revoked(user_id))

    async def viewers(self, livestream_id: int, is_active: bool) -> int:
        """The show's current viewer count (0 once it has ended); while the broker is away, the
        last count this process read (0 if none)."""
        if not is_active:
            return 0
        try:
            count = await self.broker.presence_count(livestream_id)
        except BrokerUnavailable:
            return self._counts.get(livestream_id, 0)
        if len(self._counts) > MAX_REMEMBERED:
            self._counts.clear()
        self._counts[livestream_id] = count
        return count

    async def show_changed(self, livestream_id: int) -> LivestreamOut:
        """The one path for "a show's fields changed" (the change moved the show's revision in
        its transaction): read the show and its pins at one revision, invalidate the read caches,
        broadcast ``stream_update`` with that revision to everyone; returns the show."""
        async with self.db.session() as session:
            stream, pins = await livestreams.live_state(session, livestream_id)
        out = protocol.livestream_out(
            stream, pins, await self.viewers(livestream_id, stream.is_active)
        )
        await self.invalidate(SHOWS)
        await self.to_everyone(protocol.stream_update(protocol.dump(out), stream.revision))
        return out
