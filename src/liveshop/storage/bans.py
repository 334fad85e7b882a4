"""Who is banned from which show. A ban lasts as long as the show's rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.models import Ban


async def banned_users(session: AsyncSession, livestream_id: int) -> set[str]:
    """The ids of every user banned from the show."""
    result = await session.execute(select(Ban.user_id).where(Ban.livestream_id == livestream_id))
    return set(result.scalars())


async def ban(session: AsyncSession, livestream_id: int, user_id: str) -> None:
    """Ban ``user_id`` from the show; banning twice changes nothing."""
    await session.merge(Ban(livestream_id=livestream_id, user_id=user_id))
