"""In-process broker: one process, no dependencies."""

from __future__ import annotations

import time
from collections import defaultdict

from liveshop.broker.base import PRESENCE_TTL_SECONDS, Broker, Handler, Subscription


class _MemorySubscription(Subscription):
    def __init__(self, broker: MemoryBroker, topic: str, handler: Handler) -> None:
        self._broker, self._topic, self._handler = broker, topic, handler

    async def close(self) -> None:
        handlers = self._broker._handlers.get(self._topic)
        if handlers and self._handler in handlers:
            handlers.remove(self._handler)


class MemoryBroker(Broker):
    """Delivers synchronously to this process's handlers, in publish order."""

    name = "memory"

    def __init__(self, presence_ttl: float = PRESENCE_TTL_SECONDS) -> None:
        self.presence_ttl = presence_ttl
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._presence: dict[int, dict[str, tuple[float, set[str]]]] = defaultdict(dict)

    async def publish(self, topic: str, message: bytes) -> None:
        for handler in list(self._handlers.get(topic, ())):
            handler(message)

    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        self._handlers[topic].append(handler)
        return _MemorySubscription(self, topic, handler)

    async def set_presence(self, livestream_id: int, node_id: str, identities: set[str]) -> None:
        self._presence[livestream_id][node_id] = (
            time.monotonic() + self.presence_ttl,
            set(identities),
        )

    async def presence_count(self, livestream_id: int) -> int:
        now = time.monotonic()
        union: set[str] = set()
        nodes = self._presence.get(livestream_id, {})
        for node_id, (expires, identities) in list(nodes.items()):
            if expires < now:
                del nodes[node_id]
            else:
                union |= identities
        return len(union)

    async def close(self) -> None:
        self._handlers.clear()
