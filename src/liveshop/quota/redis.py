"""Quotas in Redis, shared by every process: one sorted set of hit times per key, updated by a
Lua script so that check-and-count is one atomic step.

While Redis cannot be reached, each process counts in its own memory instead (the same limits, per
process): a Redis restart neither lets everything through nor turns every log-in and chat message
into an error."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from liveshop import redis_client
from liveshop.quota.base import Quotas
from liveshop.quota.memory import MemoryQuotas

log = logging.getLogger(__name__)

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
        self._redis: Redis = redis_client.connect(
            url, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 0)
        )
        self._prefix = prefix + "quota:"
        self._hit: Any = self._redis.register_script(HIT)
        self._local = MemoryQuotas()  # while Redis is unreachable
        self.down = False  # counting in memory until Redis answers again

    def _lost(self, exc: Exception) -> MemoryQuotas:
        if not self.down:
            self.down = True
            log.warning("quotas: redis unreachable (%s); counting in this process", exc)
        return self._local

    def _back(self) -> None:
        if self.down:
            self.down = False
            log.warning("quotas: redis reachable again; counting in redis")

    async def start(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = int(time.time() * 1000)
        member = f"{now}:{secrets.token_hex(4)}"
        try:
            wait = await self._hit(
                keys=[self._prefix + key], args=[now, int(window * 1000), limit, member]
            )
        except (RedisError, OSError) as exc:
            return await self._lost(exc).hit(key, limit, window)
        self._back()
        return int(wait) / 1000.0

    async def count(self, key: str, window: float) -> int:
        now = int(time.time() * 1000)
        name = self._prefix + key
        try:
            await self._redis.zremrangebyscore(name, "-inf", now - int(window * 1000))
            found = int(await self._redis.zcard(name))
        except (RedisError, OSError) as exc:
            return await self._lost(exc).count(key, window)
        self._back()
        return found

    async def forget(self, key: str) -> None:
        await self._local.forget(key)
        try:
            await self._redis.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._lost(exc)
