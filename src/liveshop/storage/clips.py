"""Clips of a show's MP4 rendition: one per product pin (remade with every rendition) and the
seller's highlights (kept). A clip is ``queued`` until the background job has cut it."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.errors import NotFound
from liveshop.storage.models import Clip

PIN, HIGHLIGHT = "pin", "highlight"
QUEUED, DONE, FAILED = "queued", "done", "failed"


async def add(
    session: AsyncSession,
    livestream_id: int,
    *,
    kind: str,
    start: float,
    end: float,
    product_id: int | None = None,
    title: str = "",
) -> Clip:
    """A queued clip of ``start``..``end`` seconds of the show's MP4."""
    clip = Clip(
        livestream_id=livestream_id,
        product_id=product_id,
        kind=kind,
        title=title,
        start_seconds=round(start, 3),
        end_seconds=round(end, 3),
        state=QUEUED,
    )
    session.add(clip)
    await session.flush()
    return clip


async def replace_pin_clips(
    session: AsyncSession, livestream_id: int, intervals: list[tuple[int, float, float]]
) -> list[Clip]:
    """Drop the show's pin clips and queue one per ``(product_id, start, end)``."""
    await session.execute(delete(Clip).where(Clip.livestream_id == livestream_id, Clip.kind == PIN))
    return [
        await add(session, livestream_id, kind=PIN, start=s, end=e, product_id=p)
        for p, s, e in intervals
    ]


async def get(session: AsyncSession, clip_id: int) -> Clip:
    clip = await session.get(Clip, clip_id)
    if clip is None:
        raise NotFound("clip")
    return clip


async def for_show(session: AsyncSession, livestream_id: int) -> list[Clip]:
    """The show's clips in the order they happen in the show."""
    result = await session.execute(
        select(Clip)
        .where(Clip.livestream_id == livestream_id)
        .order_by(Clip.start_seconds, Clip.id)
    )
    return list(result.scalars())


async def for_product(session: AsyncSession, product_id: int) -> list[Clip]:
    """The product's finished clips, newest first."""
    result = await session.execute(
        select(Clip)
        .where(Clip.product_id == product_id, Clip.state == DONE)
        .order_by(Clip.id.desc())
    )
    return list(result.scalars())


async def queued(session: AsyncSession, livestream_id: int) -> list[Clip]:
    result = await session.execute(
        select(Clip)
        .where(Clip.livestream_id == livestream_id, Clip.state == QUEUED)
        .order_by(Clip.id)
    )
    return list(result.scalars())


async def shows_with_queued(session: AsyncSession) -> list[int]:
    result = await session.execute(
        select(Clip.livestream_id).where(Clip.state == QUEUED).distinct()
    )
    return list(result.scalars())


async def delete_clip(session: AsyncSession, clip: Clip) -> None:
    await session.execute(delete(Clip).where(Clip.id == clip.id))
