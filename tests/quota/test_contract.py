"""One contract, every quota store: in-process and Redis count the same, atomically, and Redis
shares the counts between processes (two stores on one Redis stand for two processes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from liveshop.quota.base import Quotas
from liveshop.quota.memory import MemoryQuotas
from tests.conftest import REDIS_HOST, REDIS_PORT, require


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Quotas, Quotas]]:
    """Two handles on one quota space: the same object in memory, two clients on one Redis."""
    if request.param == "memory":
        one = MemoryQuotas()
        yield one, one
        return
    require("Redis", REDIS_HOST, REDIS_PORT)
    from liveshop.quota.redis import RedisQuotas

    prefix = f"q{uuid.uuid4().hex[:8]}:"
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    a, b = RedisQuotas(url, prefix=prefix), RedisQuotas(url, prefix=prefix)
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


async def test_hits_within_the_limit_count_and_the_next_is_refused(
    stores: tuple[Quotas, Quotas],
) -> None:
    """``limit`` hits pass; the next one is refused with a wait within the window."""
    a, _ = stores
    assert [await a.hit("k", 3, 60.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await a.hit("k", 3, 60.0)
    assert 0 < wait <= 60.0
    assert await a.count("k", 60.0) == 3


async def test_concurrent_hits_from_two_processes_never_pass_the_limit(
    stores: tuple[Quotas, Quotas],
) -> None:
    """50 hits at once, split over two handles, let exactly 10 through."""
    a, b = stores
    results = await asyncio.gather(*[(a if i % 2 else b).hit("c", 10, 60.0) for i in range(50)])
    assert sum(1 for r in results if r == 0.0) == 10
    assert await b.count("c", 60.0) == 10


async def test_the_window_slides(stores: tuple[Quotas, Quotas]) -> None:
    """Once the refused hit's wait has passed, one more hit is allowed."""
    a, _ = stores
    assert await a.hit("w", 1, 0.3) == 0.0
    wait = await a.hit("w", 1, 0.3)
    assert 0 < wait <= 0.3
    await asyncio.sleep(wait + 0.05)  # the quota's own clock is what is under test
    assert await a.hit("w", 1, 0.3) == 0.0


async def test_forget_clears_a_key_only(stores: tuple[Quotas, Quotas]) -> None:
    """``forget`` drops one key's hits (seen by the other handle); other keys keep theirs."""
    a, b = stores
    await a.hit("x", 1, 60.0)
    await a.hit("y", 1, 60.0)
    await b.forget("x")
    assert await a.hit("x", 1, 60.0) == 0.0
    assert await a.hit("y", 1, 60.0) > 0
