"""The one way liveshop opens a Redis client (broker, quotas, Janus placement).

redis-py's default pool refuses a request with "Too many connections" once 100 are in use:
a burst of concurrent publishes (a process stopping while its 200 shoppers' last messages are
handled, a chat flood) then looked like Redis being unreachable, and the broker fell back to
local delivery, so other processes never got those messages. A blocking pool makes a request
wait for a free connection instead; only a pool still full after ``wait`` seconds raises.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 64  # per client, per process
WAIT_SECONDS = 5.0  # for a free connection before a request fails


def connect(
    url: str, *, max_connections: int = MAX_CONNECTIONS, wait: float = WAIT_SECONDS, **options: Any
) -> Redis:
    """A client for ``url`` whose pool holds at most ``max_connections``; a request made while
    all are busy waits up to ``wait`` seconds for one (then ``redis.ConnectionError``). Closing
    the client closes its pool. ``options`` are redis-py connection options."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait, **options
    )
    return Redis.from_pool(pool)
