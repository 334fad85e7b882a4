"""Pick the ``janus`` mode's placement from configuration; Redis is imported only when selected."""

from __future__ import annotations

from .base import PLACEMENT_TTL_S, Placement


def create_placement(
    redis_url: str = "", *, prefix: str = "liveshop:", ttl: float = PLACEMENT_TTL_S
) -> Placement:
    """In this process when ``redis_url`` is empty, else in Redis under ``{prefix}janus:``."""
    if not redis_url:
        from .memory import MemoryPlacement

        return MemoryPlacement()
    from .redis import RedisPlacement

    return RedisPlacement(redis_url, prefix=prefix, ttl=ttl)
