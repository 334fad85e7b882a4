"""How REST handlers tell the world: publish through the broker, invalidate read caches."""

from __future__ import annotations

from liveshop.broker.base import GLOBAL, show_topic
from liveshop.services import Services

CACHE_TOPIC = "cache"


async def publish_global(services: Services, frame: bytes) -> None:
    """Deliver ``frame`` to every connected socket of every process."""
    await services.broker.publish(GLOBAL, frame)


async def publish_show(services: Services, livestream_id: int, frame: bytes) -> None:
    """Deliver ``frame`` to every socket in the show, in every process."""
    await services.broker.publish(show_topic(livestream_id), frame)


async def invalidate(services: Services, *groups: str) -> None:
    """Drop cached reads of ``groups`` here and, through the broker, in every other process."""
    services.cache.invalidate(*groups)
    await services.broker.publish(CACHE_TOPIC, ",".join(groups).encode())
