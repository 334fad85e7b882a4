"""Pick the quota store from configuration; Redis is imported only when selected."""

from __future__ import annotations

from liveshop.quota.base import Quotas


def create_quotas(redis_url: str, *, prefix: str = "liveshop:") -> Quotas:
    """In-process quotas when ``redis_url`` is empty (one process), else shared through Redis."""
    if not redis_url:
        from liveshop.quota.memory import MemoryQuotas

        return MemoryQuotas()
    from liveshop.quota.redis import RedisQuotas

    return RedisQuotas(redis_url, prefix=prefix)
