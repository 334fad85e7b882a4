"""What the show report is computed from: viewer sessions, Buy clicks, chat and pin history."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.models import ChatMessage, ProductClick, ViewerSession, utcnow


async def sessions(
    session: AsyncSession, livestream_id: int
) -> list[tuple[str, datetime, datetime | None]]:
    result = await session.execute(
        select(ViewerSession.viewer, ViewerSession.joined_at, ViewerSession.left_at).where(
            ViewerSession.livestream_id == livestream_id
        )
    )
    return [(v, j, left) for v, j, left in result.all()]


async def add_click(
    session: AsyncSession, livestream_id: int, product_id: int, clicker: str
) -> bool:
    """Count a click unless this identity already clicked this product in this minute."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(ProductClick)
        .values(
            livestream_id=livestream_id,
            product_id=product_id,
            clicker=clicker,
            minute=int(time.time() // 60),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    return bool(getattr(result, "rowcount", 0))


async def clicks_by_product(session: AsyncSession, livestream_id: int) -> dict[int, int]:
    result = await session.execute(
        select(ProductClick.product_id, func.count())
        .where(ProductClick.livestream_id == livestream_id)
        .group_by(ProductClick.product_id)
    )
    return {pid: int(n) for pid, n in result.all()}


async def chat_count(session: AsyncSession, livestream_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(ChatMessage)
        .where(ChatMessage.livestream_id == livestream_id, ChatMessage.deleted_at.is_(None))
    )
    return int(result.scalar_one())


async def all_chat(session: AsyncSession, livestream_id: int) -> list[ChatMessage]:
    result = await session.execute(
        select(ChatMessage)
        .where(ChatMessage.livestream_id == livestream_id, ChatMessage.deleted_at.is_(None))
        .order_by(ChatMessage.id)
    )
    return list(result.scalars())


async def has_watched(
    session: AsyncSession, livestream_id: int, viewer: str, *, joined_before: datetime
) -> bool:
    """True when ``viewer`` has a viewer session in the show that began before ``joined_before``
    (so it has been watching at least that long, or watched that long before leaving)."""
    result = await session.execute(
        select(ViewerSession.id)
        .where(
            ViewerSession.livestream_id == livestream_id,
            ViewerSession.viewer == viewer,
            ViewerSession.joined_at <= joined_before,
        )
        .limit(1)
    )
    return result.first() is not None


async def unique_addresses(session: AsyncSession, livestream_id: int) -> int:
    """How many distinct client addresses watched the show."""
    result = await session.execute(
        select(func.count(func.distinct(ViewerSession.address))).where(
            ViewerSession.livestream_id == livestream_id
        )
    )
    return int(result.scalar_one())
