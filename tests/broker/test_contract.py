"""One contract, every broker: the in-process broker and Redis behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from liveshop.broker.base import Broker, Subscription
from liveshop.broker.memory import MemoryBroker
from tests.conftest import REDIS_HOST, REDIS_PORT, require
from tests.waiting import until


@pytest.fixture(params=["memory", "redis"])
async def make_broker(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """A factory of started brokers of one kind (Redis ones share a private prefix)."""
    prefix = f"c{uuid.uuid4().hex[:8]}:"
    made: list[Broker] = []
    if request.param == "redis":
        require("Redis", REDIS_HOST, REDIS_PORT)

    async def make(presence_ttl: float = 10.0) -> Broker:
        broker: Broker
        if request.param == "memory":
            broker = made[0] if made else MemoryBroker(presence_ttl=presence_ttl)
        else:
            from liveshop.broker.redis import RedisBroker

            broker = RedisBroker(
                f"redis://{REDIS_HOST}:{REDIS_PORT}/0", prefix=prefix, presence_ttl=presence_ttl
            )
        if broker not in made:
            await broker.start()
            made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


async def _collect(
    broker: Broker, topic: str, n: int
) -> tuple[list[bytes], asyncio.Event, Subscription]:
    got: list[bytes] = []
    done = asyncio.Event()

    def handler(message: bytes) -> None:
        got.append(message)
        if len(got) >= n:
            done.set()

    return got, done, await broker.subscribe(topic, handler)


async def test_publish_reaches_subscribers_in_order(make_broker) -> None:  # type: ignore[no-untyped-def]
    """Messages arrive in publish order, to every subscriber of the topic only."""
    pub, sub = await make_broker(), await make_broker()
    got, done, _ = await _collect(sub, "show:1", 50)
    other, _, _ = await _collect(sub, "show:2", 1)
    for i in range(50):
        await pub.publish("show:1", str(i).encode())
    await asyncio.wait_for(done.wait(), 5)
    assert got == [str(i).encode() for i in range(50)]
    assert other == []


async def test_closed_subscription_stops_delivery(make_broker) -> None:  # type: ignore[no-untyped-def]
    """After close(), the handler is not called again; other subscribers still are."""
    broker = await make_broker()
    stopped, first, sub = await _collect(broker, "global", 1)
    got, done, _ = await _collect(broker, "global", 2)
    await broker.publish("global", b"a")
    await asyncio.wait_for(first.wait(), 5)
    await sub.close()
    await broker.publish("global", b"b")
    await asyncio.wait_for(done.wait(), 5)
    assert stopped == [b"a"] and got == [b"a", b"b"]


async def test_presence_counts_distinct_identities_over_nodes(make_broker) -> None:  # type: ignore[no-untyped-def]
    """The count is the union over nodes; replacing a node's set changes it."""
    a, b = await make_broker(), await make_broker()
    await a.set_presence(7, "node-a", {"g_1", "g_2"})
    await b.set_presence(7, "node-b", {"g_2", "g_3"})
    assert await a.presence_count(7) == 3
    assert await b.presence_count(7) == 3
    await a.set_presence(7, "node-a", set())
    assert await b.presence_count(7) == 2
    assert await a.presence_count(8) == 0


async def test_presence_expires_when_not_refreshed(make_broker) -> None:  # type: ignore[no-untyped-def]
    """A node that stops refreshing drops out of the count after the TTL."""
    broker = await make_broker(presence_ttl=0.3)
    await broker.set_presence(9, "dead", {"g_1"})
    assert await broker.presence_count(9) == 1

    async def expired() -> bool:
        return bool(await broker.presence_count(9) == 0)

    await until(expired, timeout=5, message="the presence to expire")


async def test_ping(make_broker) -> None:  # type: ignore[no-untyped-def]
    """A started broker answers ping."""
    assert await (await make_broker()).ping()


async def test_a_burst_of_concurrent_publishes_all_arrive(make_broker) -> None:  # type: ignore[no-untyped-def]
    """300 publishes at once (more than a connection pool holds) all reach the other broker
    and leave the publisher ``ok``: a busy pool is waited on, not taken for Redis being down."""
    pub, sub = await make_broker(), await make_broker()
    got, done, _ = await _collect(sub, "show:9", 300)
    await asyncio.gather(*(pub.publish("show:9", str(i).encode()) for i in range(300)))
    await asyncio.wait_for(done.wait(), 10)
    assert sorted(got, key=int) == [str(i).encode() for i in range(300)]
    assert pub.state == "ok"
