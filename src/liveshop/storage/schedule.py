"""Scheduled shows: a livestream row with ``upcoming`` set, a planned time and planned products.

An upcoming show is neither active nor ended. Going live turns that same row into the active show
(same id, so links and calendar entries stay valid); the one-active rule stays the database's
unique partial index on ``is_active``, whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage import livestreams, products
from liveshop.storage.errors import Conflict
from liveshop.storage.models import Livestream, PlannedProduct, Product, utcnow


async def create(
    session: AsyncSession,
    *,
    title: str,
    description: str,
    quality: str,
    scheduled_at: datetime,
    created_by: str,
    product_ids: Sequence[int],
) -> Livestream:
    """Insert an upcoming show with its planned products (in the given order, duplicates once).

    Raises :class:`NotFound` when a product is missing or deleted (nothing is stored then: the
    caller's transaction rolls back)."""
    stream = Livestream(
        title=title,
        description=description,
        quality=quality,
        created_by=created_by,
        is_active=False,
        upcoming=True,
        scheduled_at=scheduled_at,
        start_time=scheduled_at,
    )
    session.add(stream)
    await session.flush()
    await set_planned(session, stream.id, product_ids)
    return stream


async def set_planned(
    session: AsyncSession, livestream_id: int, product_ids: Sequence[int]
) -> None:
    """Replace the show's planned products; raise :class:`NotFound` for an unknown product."""
    unique = list(dict.fromkeys(product_ids))
    for product_id in unique:
        await products.get(session, product_id)
    existing = await session.execute(
        select(PlannedProduct).where(PlannedProduct.livestream_id == livestream_id)
    )
    for row in existing.scalars():
        await session.delete(row)
    await session.flush()
    for position, product_id in enumerate(unique, start=1):
        session.add(
            PlannedProduct(livestream_id=livestream_id, product_id=product_id, position=position)
        )
    await session.flush()


async def planned(session: AsyncSession, livestream_id: int) -> list[Product]:
    """The show's planned products still in the catalogue, in the seller's order."""
    result = await session.execute(
        select(Product)
        .join(PlannedProduct, PlannedProduct.product_id == Product.id)
        .where(PlannedProduct.livestream_id == livestream_id, Product.deleted_at.is_(None))
        .order_by(PlannedProduct.position)
    )
    return list(result.scalars())


async def upcoming(session: AsyncSession, *, limit: int) -> list[Livestream]:
    """Upcoming shows, soonest first (then in creation order)."""
    result = await session.execute(
        select(Livestream)
        .where(Livestream.upcoming.is_(True))
        .order_by(Livestream.scheduled_at, Livestream.id)
        .limit(limit)
    )
    return list(result.scalars())


async def reschedule(session: AsyncSession, stream: Livestream, at: datetime) -> None:
    """Move the upcoming ``stream`` to ``at``; :class:`Conflict` once it is live or ended."""
    if not stream.upcoming:
        raise Conflict("Only an upcoming show can be moved")
    stream.scheduled_at = at
    stream.start_time = at
    await livestreams.touch(session, stream.id)


async def go_live(session: AsyncSession, stream: Livestream) -> None:
    """Turn the upcoming ``stream`` into the active show, starting now.

    Raises :class:`Conflict` when it is not upcoming (already live or ended) or when another show
    is active (the unique partial index refuses it; nothing changes then). Callers hold the row
    lock (``livestreams.get_for_update``), so two "Go live" clicks start it once."""
    if not stream.upcoming:
        raise Conflict("This show is not upcoming: it is live or has ended")
    stream.upcoming = False
    stream.is_active = True
    stream.start_time = utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another livestream is active") from exc
    await livestreams.touch(session, stream.id)
