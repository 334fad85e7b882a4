"""The resources one app instance owns, created and closed by its lifespan (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from liveshop.broker.base import Broker
from liveshop.cache import ResponseCache
from liveshop.config import Settings
from liveshop.domain.ratelimit import KeyedWindows
from liveshop.media.base import MediaBackend
from liveshop.security import TokenService
from liveshop.storage.engine import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    broker: Broker
    tokens: TokenService
    node_id: str
    media: MediaBackend
    cache: ResponseCache = field(default_factory=ResponseCache)
    failed_logins: KeyedWindows = field(default_factory=lambda: KeyedWindows(10, 60.0))
