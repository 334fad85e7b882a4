"""Pick the broker from configuration; Redis is imported only when selected."""

from __future__ import annotations

from liveshop.broker.base import Broker


def create_broker(redis_url: str, *, prefix: str | None = None) -> Broker:
    """An in-process broker when ``redis_url`` is empty, else a Redis broker on that URL."""
    if not redis_url:
        from liveshop.broker.memory import MemoryBroker

        return MemoryBroker()
    from liveshop.broker.redis import RedisBroker

    return RedisBroker(redis_url) if prefix is None else RedisBroker(redis_url, prefix=prefix)
