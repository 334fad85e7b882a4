"""Shop-wide settings the seller manages from the studio, stored as JSON values by key."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.models import ShopSetting


async def get_all(session: AsyncSession) -> dict[str, Any]:
    """Every stored setting (absent keys take the caller's defaults)."""
    rows = (await session.execute(select(ShopSetting))).scalars()
    return {row.key: json.loads(row.value) for row in rows}


async def put(session: AsyncSession, key: str, value: Any) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there."""
    await session.merge(ShopSetting(key=key, value=json.dumps(value)))
