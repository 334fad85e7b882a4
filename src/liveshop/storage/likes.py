"""Likes: one row per show and liker; the show's ``likes`` counter moves in the same transaction."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.models import Like, Livestream, utcnow


async def toggle(session: AsyncSession, livestream_id: int, liker: str) -> tuple[bool, int, int]:
    """Flip ``liker``'s like; return (liked now, the show's like count after this change, the
    show's revision that count is true at).

    Exact under concurrency: the counter moves by the row count of the delete or of the
    ``ON CONFLICT DO NOTHING`` insert on the (show, liker) key, as an atomic ``likes = likes ± n``,
    and the revision moves with it in the same statement.
    """
    removed = await session.execute(
        delete(Like).where(Like.livestream_id == livestream_id, Like.liker == liker)
    )
    delta = -int(getattr(removed, "rowcount", 0) or 0)
    liked = False
    if delta == 0:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        added = await session.execute(
            insert(Like)
            .values(livestream_id=livestream_id, liker=liker, created_at=utcnow())
            .on_conflict_do_nothing()
        )
        delta = int(getattr(added, "rowcount", 0) or 0)
        liked = True
    result = await session.execute(
        update(Livestream)
        .where(Livestream.id == livestream_id)
        .values(likes=Livestream.likes + delta, revision=Livestream.revision + 1)
        .returning(Livestream.likes, Livestream.revision)
    )
    likes, revision = result.one()
    return liked, int(likes), int(revision)


async def has_liked(session: AsyncSession, livestream_id: int, liker: str) -> bool:
    result = await session.execute(
        select(Like.liker).where(Like.livestream_id == livestream_id, Like.liker == liker)
    )
    return result.first() is not None
