"""Redis broker: pub/sub for events, expiring sets for presence. Needs the ``redis`` extra."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis

from liveshop.broker.base import PRESENCE_TTL_SECONDS, Broker, Handler, Subscription

log = logging.getLogger(__name__)
PREFIX = "liveshop:"


class _RedisSubscription(Subscription):
    def __init__(self, broker: RedisBroker, topic: str, handler: Handler) -> None:
        self._broker, self._topic, self._handler = broker, topic, handler

    async def close(self) -> None:
        await self._broker._unsubscribe(self._topic, self._handler)


class RedisBroker(Broker):
    """One pub/sub connection per process, shared by all topics; a reader task dispatches.

    Ordering: Redis delivers a channel's messages in publish order to each subscriber; the reader
    task calls handlers in that order. If the connection drops, the reader reconnects and
    resubscribes (messages published meanwhile are lost; clients resync on join).
    """

    name = "redis"

    def __init__(
        self, url: str, prefix: str = PREFIX, presence_ttl: float = PRESENCE_TTL_SECONDS
    ) -> None:
        self.url = url
        self.presence_ttl = presence_ttl
        self.prefix = prefix
        self._redis: Redis = Redis.from_url(url)
        self._pubsub: Any = None
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._subscribed = asyncio.Event()

    def _channel(self, topic: str) -> str:
        return self.prefix + topic

    async def start(self) -> None:
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # A placeholder channel so the reader has something to listen on from the start.
        await self._pubsub.subscribe(self._channel("_"))
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: back off and resubscribe
                log.warning("redis broker: %s; reconnecting", exc)
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    channels = [self._channel(t) for t in self._handlers] or [self._channel("_")]
                    await self._pubsub.subscribe(*channels)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            topic = channel[len(self.prefix) :]
            data = message["data"]
            for handler in list(self._handlers.get(topic, ())):
                try:
                    handler(data)
                except Exception:
                    log.exception("broker handler failed for %s", topic)

    async def publish(self, topic: str, message: bytes) -> None:
        await self._redis.publish(self._channel(topic), message)

    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        async with self._lock:
            first = not self._handlers.get(topic)
            self._handlers[topic].append(handler)
            if first:
                await self._pubsub.subscribe(self._channel(topic))
        return _RedisSubscription(self, topic, handler)

    async def _unsubscribe(self, topic: str, handler: Handler) -> None:
        async with self._lock:
            handlers = self._handlers.get(topic)
            if not handlers or handler not in handlers:
                return
            handlers.remove(handler)
            if not handlers:
                del self._handlers[topic]
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(self._channel(topic))

    def _presence_key(self, livestream_id: int, node_id: str) -> str:
        return f"{self.prefix}presence:{livestream_id}:{node_id}"

    def _nodes_key(self, livestream_id: int) -> str:
        return f"{self.prefix}presence:{livestream_id}:nodes"

    async def set_presence(self, livestream_id: int, node_id: str, identities: set[str]) -> None:
        key = self._presence_key(livestream_id, node_id)
        ttl_ms = int(self.presence_ttl * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if identities:
                pipe.sadd(key, *identities)
                pipe.pexpire(key, ttl_ms)
            pipe.sadd(self._nodes_key(livestream_id), node_id)
            pipe.pexpire(self._nodes_key(livestream_id), ttl_ms * 6)
            await pipe.execute()

    async def presence_count(self, livestream_id: int) -> int:
        nodes_key = self._nodes_key(livestream_id)
        nodes = [
            n.decode() if isinstance(n, bytes) else n for n in await self._redis.smembers(nodes_key)
        ]
        if not nodes:
            return 0
        keys = [self._presence_key(livestream_id, n) for n in nodes]
        existing = await self._redis.exists(*keys)
        if existing == 0:
            return 0
        members = await self._redis.sunion(keys)
        return len(members)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        await self._redis.aclose()
