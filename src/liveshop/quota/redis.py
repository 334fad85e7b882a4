"""Quotas in Redis, shared by every process: one sorted set of hit times per key, updated by a
Lua script so that check-and-count is one atomic step."""

from __future__ import annotations

import secrets
import time
from typing import Any

from redis.asyncio import Redis

from liveshop.quota.base import Quotas

# KEYS[1] the key; ARGV: now (ms), window (ms), limit, member. Returns 0 when counted, else the
# milliseconds until the oldest hit that matters leaves the window.
HIT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n >= limit then
  local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return 0
"""


class RedisQuotas(Quotas):
    """Hit times in milliseconds on Redis's clock-free side: each process passes its wall clock
    (processes of one shop are assumed to keep NTP time within a few ms)."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "liveshop:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix + "quota:"
        self._hit: Any = self._redis.register_script(HIT)

    async def start(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = int(time.time() * 1000)
        member = f"{now}:{secrets.token_hex(4)}"
        wait = await self._hit(
            keys=[self._prefix + key], args=[now, int(window * 1000), limit, member]
        )
        return int(wait) / 1000.0

    async def count(self, key: str, window: float) -> int:
        now = int(time.time() * 1000)
        name = self._prefix + key
        await self._redis.zremrangebyscore(name, "-inf", now - int(window * 1000))
        return int(await self._redis.zcard(name))

    async def forget(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
