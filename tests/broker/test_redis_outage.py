"""The Redis broker and quotas while their Redis restarts (a private ``redis-server`` the test
stops and starts: the machine's Redis is shared by every test running, see tests/services.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from liveshop.broker.base import BrokerUnavailable, State
from liveshop.broker.redis import RedisBroker
from liveshop.quota.redis import RedisQuotas
from tests.services import PrivateRedis, private_redis
from tests.waiting import until


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path / "redis") as redis:
        yield redis


@pytest.fixture
async def brokers(redis_server: PrivateRedis) -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """Two brokers (two processes' worth) on the private Redis."""
    pair = (RedisBroker(redis_server.url), RedisBroker(redis_server.url))
    for broker in pair:
        await broker.start()
    yield pair
    for broker in pair:
        await broker.close()


async def test_broker_degrades_delivers_locally_and_resubscribes(
    brokers: tuple[RedisBroker, RedisBroker], redis_server: PrivateRedis
) -> None:
    """While Redis is down publish reaches only this process; after it, every topic works again."""
    a, b = brokers
    states: list[State] = []
    a.watch(states.append)
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    await a.subscribe("show:1", got_a.append)
    await b.subscribe("show:1", got_b.append)

    redis_server.stop()
    await a.publish("show:1", b"in the outage")  # never raises
    assert a.state == "degraded" and states == ["degraded"]
    assert got_a == [b"in the outage"] and got_b == []
    with pytest.raises(BrokerUnavailable):
        await a.presence_count(1)
    assert not await a.ping()

    redis_server.start()
    await until(lambda: a.state == "ok" and b.state == "ok", message="both reconnected")
    assert states == ["degraded", "ok"]
    await until(lambda: b.outages == 1, message="b to have noticed the outage")
    await a.publish("show:1", b"after")
    await until(lambda: b"after" in got_b, message="b to get a's message through Redis")
    assert got_b == [b"after"]
    await a.set_presence(1, "node-a", {"u1", "u2"})
    assert await b.presence_count(1) == 2


async def test_quotas_count_in_memory_while_redis_is_down(redis_server: PrivateRedis) -> None:
    """A quota still holds (per process) while Redis restarts, and Redis counts again after."""
    quotas = RedisQuotas(redis_server.url, prefix="q:")
    await quotas.start()
    try:
        redis_server.stop()
        assert await quotas.hit("k", 2, 60) == 0
        assert await quotas.hit("k", 2, 60) == 0
        assert await quotas.hit("k", 2, 60) > 0  # the limit holds, no error
        redis_server.start()
        await until(lambda: _hits(quotas), message="redis-backed hits again")
        assert await quotas.count("shared", 60) == 1
    finally:
        await quotas.close()


async def _hits(quotas: RedisQuotas) -> bool:
    try:
        return await asyncio.wait_for(quotas.hit("shared", 5, 60), 2) == 0 and not quotas.down
    except TimeoutError:
        return False
