"""Viewer sessions (one shopper socket in one show, join to leave), written in batches.

The batching itself lives with the hub (``hub/viewing.py``); these are the two statements it runs,
each one round trip for any number of rows (``executemany``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.models import ViewerSession

TABLE: Table = ViewerSession.__table__  # type: ignore[assignment]  # Core statements: executemany


class NewVisit(TypedDict):
    livestream_id: int
    viewer: str
    address: str | None
    joined_at: datetime
    left_at: datetime | None


async def insert_visits(session: AsyncSession, visits: Sequence[NewVisit]) -> list[int]:
    """Insert ``visits``; the new row ids, in the order of ``visits``."""
    if not visits:
        return []
    result = await session.execute(
        insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True), list(visits)
    )
    return list(result.scalars())


async def close_visits(session: AsyncSession, leaves: Sequence[tuple[int, datetime]]) -> None:
    """Set ``left_at`` of each (row id, time) pair."""
    if not leaves:
        return
    await session.execute(
        update(TABLE).where(TABLE.c.id == bindparam("vid")).values(left_at=bindparam("left")),
        [{"vid": row_id, "left": left} for row_id, left in leaves],
    )
