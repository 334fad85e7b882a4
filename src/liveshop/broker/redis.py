"""Redis broker: pub/sub for events, expiring sets for presence. Needs the ``redis`` extra."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from liveshop import redis_client
from liveshop.broker.base import (
    PRESENCE_TTL_SECONDS,
    Broker,
    BrokerUnavailable,
    Handler,
    State,
    StateListener,
    Subscription,
)

log = logging.getLogger(__name__)
PREFIX = "liveshop:"
BACKOFF_MIN, BACKOFF_MAX = 0.2, 5.0  # seconds between reconnection attempts
CONNECT_TIMEOUT = 2.0


class _RedisSubscription(Subscription):
    def __init__(self, broker: RedisBroker, topic: str, handler: Handler) -> None:
        self._broker, self._topic, self._handler = broker, topic, handler

    async def close(self) -> None:
        await self._broker._unsubscribe(self._topic, self._handler)


class RedisBroker(Broker):
    """One pub/sub connection per process, shared by all topics; a reader task dispatches.

    Ordering: Redis delivers a channel's messages in publish order to each subscriber; the reader
    task calls handlers in that order.

    Losing Redis (a restart, a network cut): the first failed read or publish turns :attr:`state`
    to ``"degraded"``; from then on :meth:`publish` delivers to this process's own subscribers only
    (so its sockets keep getting their own chat) and presence calls raise
    :class:`BrokerUnavailable`. The reader reconnects with exponential backoff (0.2 s doubling to
    :data:`BACKOFF_MAX`, with jitter), subscribes every topic again on a fresh connection, and only
    then turns ``"ok"`` and tells the listeners (the hub resumes chat from the database and
    republishes presence). Messages other processes published meanwhile are not replayed by Redis.
    """

    name = "redis"
    shared = True

    def __init__(
        self, url: str, prefix: str = PREFIX, presence_ttl: float = PRESENCE_TTL_SECONDS
    ) -> None:
        self.url = url
        self.presence_ttl = presence_ttl
        self.prefix = prefix
        # no silent retries inside redis-py: a lost connection must reach us, so that we resume
        # what was missed (a pub/sub that quietly reconnects would hide the gap)
        self._redis: Redis = redis_client.connect(
            url, socket_connect_timeout=CONNECT_TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        self._pubsub: Any = None
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[StateListener] = []
        self.state = "ok"
        self.outages = 0  # times the connection was lost (health, tests)

    def _channel(self, topic: str) -> str:
        return self.prefix + topic

    async def start(self) -> None:
        await self._redis.ping()
        await self._open_pubsub()
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")

    async def _open_pubsub(self) -> None:
        """A fresh pub/sub connection subscribed to every topic that has handlers."""
        old, self._pubsub = self._pubsub, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # a placeholder channel so the reader has something to listen on from the start
        channels = [self._channel("_"), *(self._channel(t) for t in self._handlers)]
        try:
            await pubsub.subscribe(*channels)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._pubsub = pubsub

    def watch(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def _set_state(self, state: State, reason: object = None) -> None:
        if state == self.state:
            return
        self.state = state
        if state == "degraded":
            self.outages += 1
            log.warning("redis broker unreachable (%s); serving local sockets only", reason)
        else:
            log.warning("redis broker reconnected; topics subscribed again")
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("broker state listener failed")

    async def _reconnect(self) -> None:
        delay = BACKOFF_MIN
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            try:
                async with self._lock:
                    await self._redis.ping()
                    await self._open_pubsub()
            except (RedisError, OSError) as exc:
                log.debug("redis broker: reconnect failed: %s", exc)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            self._set_state("ok")
            return

    async def _read(self) -> None:
        while True:
            if self.state != "ok" or self._pubsub is None:
                await self._reconnect()
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: back off, resubscribe (above)
                self._set_state("degraded", exc)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            self._deliver(channel[len(self.prefix) :], message["data"])

    def _deliver(self, topic: str, data: bytes) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                handler(data)
            except Exception:
                log.exception("broker handler failed for %s", topic)

    async def publish(self, topic: str, message: bytes) -> None:
        if self.state == "ok":
            try:
                await self._redis.publish(self._channel(topic), message)
                return
            except (RedisError, OSError) as exc:
                self._set_state("degraded", exc)
        self._deliver(topic, message)  # degraded: this process's subscribers still get it

    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        async with self._lock:
            first = not self._handlers.get(topic)
            self._handlers[topic].append(handler)
            if first and self.state == "ok" and self._pubsub is not None:
                try:
                    await self._pubsub.subscribe(self._channel(topic))
                except (RedisError, OSError) as exc:  # subscribed again on reconnection
                    self._set_state("degraded", exc)
        return _RedisSubscription(self, topic, handler)

    async def _unsubscribe(self, topic: str, handler: Handler) -> None:
        async with self._lock:
            handlers = self._handlers.get(topic)
            if not handlers or handler not in handlers:
                return
            handlers.remove(handler)
            if not handlers:
                del self._handlers[topic]
                if self.state == "ok" and self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(self._channel(topic))

    def _presence_key(self, livestream_id: int, node_id: str) -> str:
        return f"{self.prefix}presence:{livestream_id}:{node_id}"

    def _nodes_key(self, livestream_id: int) -> str:
        return f"{self.prefix}presence:{livestream_id}:nodes"

    def _check_up(self) -> None:
        if self.state != "ok":
            raise BrokerUnavailable("redis is unreachable")

    def _lost(self, exc: Exception) -> BrokerUnavailable:
        self._set_state("degraded", exc)
        return BrokerUnavailable(str(exc))

    async def set_presence(self, livestream_id: int, node_id: str, identities: set[str]) -> None:
        self._check_up()
        try:
            await self._write_presence(livestream_id, node_id, identities)
        except (RedisError, OSError) as exc:
            raise self._lost(exc) from exc

    async def _write_presence(self, livestream_id: int, node_id: str, identities: set[str]) -> None:
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
        self._check_up()
        try:
            return await self._count(livestream_id)
        except (RedisError, OSError) as exc:
            raise self._lost(exc) from exc

    async def _count(self, livestream_id: int) -> int:
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
        """True when Redis answers and the subscriptions are in place (not reconnecting)."""
        if self.state != "ok":
            return False
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
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
