"""Shop-wide settings the seller manages from the studio, stored as JSON values by key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.engine import Database
from liveshop.storage.models import ShopSetting


async def get_all(session: AsyncSession) -> dict[str, Any]:
    """Every stored setting (absent keys take the caller's defaults)."""
    rows = (await session.execute(select(ShopSetting))).scalars()
    return {row.key: json.loads(row.value) for row in rows}


async def put(session: AsyncSession, key: str, value: Any) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there."""
    await session.merge(ShopSetting(key=key, value=json.dumps(value)))


@dataclass(frozen=True)
class ModerationSettings:
    """The shop's chat settings, as the seller set them in the studio."""

    blocked_words: tuple[str, ...] = ()
    allow_links: bool = False

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> ModerationSettings:
        words = stored.get("blocked_words") or []
        return cls(
            blocked_words=tuple(str(w) for w in words if isinstance(w, str) and w.strip()),
            allow_links=bool(stored.get("allow_links", False)),
        )

    def to_stored(self) -> dict[str, Any]:
        return {"blocked_words": list(self.blocked_words), "allow_links": self.allow_links}


async def load_moderation(db: Database) -> ModerationSettings:
    """The stored moderation settings (defaults where none were stored)."""
    async with db.session() as session:
        return ModerationSettings.from_stored(await get_all(session))
