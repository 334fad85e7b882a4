"""Livestreams and their pins. The one-active-show rule is the database's unique partial index.

Every change to what a show's page shows live (likes, pins, slow mode, state, fields) bumps the
show's ``revision`` in the same transaction (:func:`touch`, or ``likes.toggle``), so each live
value can carry the revision it is true at, and the newest wins (``docs/protocol.md``).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.errors import Conflict, NotFound
from liveshop.storage.models import Livestream, PinnedProduct, Product, utcnow

EDITABLE = frozenset(
    {"title", "description", "video_url", "thumbnail_url", "is_recorded", "duration_seconds"}
)


async def create(
    session: AsyncSession, *, title: str, description: str, quality: str, created_by: str
) -> Livestream:
    """Insert an active show; raise :class:`Conflict` when another one is active.

    Safe under concurrency: the unique partial index on ``is_active`` refuses a second active row
    whatever the interleaving, on SQLite and PostgreSQL alike.
    """
    stream = Livestream(
        title=title,
        description=description,
        quality=quality,
        created_by=created_by,
        is_active=True,
        start_time=utcnow(),
    )
    session.add(stream)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another livestream is active") from exc
    return stream


async def get(session: AsyncSession, livestream_id: int) -> Livestream:
    stream = await session.get(Livestream, livestream_id)
    if stream is None:
        raise NotFound("livestream not found")
    return stream


async def get_for_update(session: AsyncSession, livestream_id: int) -> Livestream:
    """The show, row-locked on PostgreSQL for the rest of the transaction."""
    result = await session.execute(
        select(Livestream).where(Livestream.id == livestream_id).with_for_update()
    )
    stream = result.scalar_one_or_none()
    if stream is None:
        raise NotFound("livestream not found")
    return stream


async def touch(session: AsyncSession, livestream_id: int) -> Livestream:
    """Bump the show's revision in this transaction and return the row as it is now.

    Flushes pending changes first. On PostgreSQL the row stays locked until commit, so what the
    rest of the transaction reads of the show (its pins too: every writer of live figures takes
    the row first) is the state at the returned ``revision``."""
    await session.flush()
    result = await session.execute(
        update(Livestream)
        .where(Livestream.id == livestream_id)
        .values(revision=Livestream.revision + 1)
        .returning(Livestream)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    stream = result.scalar_one_or_none()
    if stream is None:
        raise NotFound("livestream not found")
    return stream


async def revision(session: AsyncSession, livestream_id: int) -> int | None:
    """The show's revision (None: no such show). One primary-key read."""
    result = await session.execute(
        select(Livestream.revision).where(Livestream.id == livestream_id)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


LIVE_STATE_ATTEMPTS = 3


async def live_state(session: AsyncSession, livestream_id: int) -> tuple[Livestream, list[Product]]:
    """The show and its current pins, both as of ``stream.revision``.

    Lock-free first (a sequence lock): read the row, then the pins, then the revision again; equal
    revisions mean no change committed in between, since every change bumps it. After
    :data:`LIVE_STATE_ATTEMPTS` busy tries, reads under a share lock of the row (PostgreSQL)."""
    attempt = 0
    while True:
        stmt = select(Livestream).where(Livestream.id == livestream_id)
        if attempt == LIVE_STATE_ATTEMPTS:
            stmt = stmt.with_for_update(read=True)
        result = await session.execute(stmt.execution_options(populate_existing=True))
        stream = result.scalar_one_or_none()
        if stream is None:
            raise NotFound("livestream not found")
        pins = await current_pins(session, livestream_id)
        if attempt == LIVE_STATE_ATTEMPTS:
            return stream, pins
        if await revision(session, livestream_id) == stream.revision:
            return stream, pins
        attempt += 1


async def set_slow_mode(session: AsyncSession, livestream_id: int, seconds: int) -> int:
    """Store the show's slow mode; return the revision it is true at."""
    result = await session.execute(
        update(Livestream)
        .where(Livestream.id == livestream_id)
        .values(slow_mode_seconds=seconds, revision=Livestream.revision + 1)
        .returning(Livestream.revision)
        .execution_options(synchronize_session=False)
    )
    value = result.scalar_one_or_none()
    if value is None:
        raise NotFound("livestream not found")
    return int(value)


async def active(session: AsyncSession) -> Livestream | None:
    result = await session.execute(select(Livestream).where(Livestream.is_active.is_(True)))
    return result.scalar_one_or_none()


async def list_page(
    session: AsyncSession,
    *,
    status: Literal["active", "ended"] | None,
    limit: int,
    before: int | None = None,
    recorded: bool | None = None,
) -> tuple[list[Livestream], int | None]:
    """Shows newest first, with the cursor (an id for ``before=``) of the next page or None."""
    stmt = select(Livestream)
    if status == "active":
        stmt = stmt.where(Livestream.is_active.is_(True))
    elif status == "ended":
        stmt = stmt.where(Livestream.is_active.is_(False), Livestream.upcoming.is_(False))
    if recorded is not None:
        stmt = stmt.where(Livestream.is_recorded.is_(recorded))
    if before is not None:
        stmt = stmt.where(Livestream.id < before)
    rows = list(
        (await session.execute(stmt.order_by(Livestream.id.desc()).limit(limit + 1))).scalars()
    )
    nxt = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], nxt


async def update_fields(session: AsyncSession, stream: Livestream, fields: dict[str, Any]) -> None:
    """Change the editable fields; ``stream`` is reloaded at its new revision."""
    for key, value in fields.items():
        if key in EDITABLE:
            setattr(stream, key, value)
    await touch(session, stream.id)


async def stop(session: AsyncSession, stream: Livestream) -> bool:
    """End the show and clear its pins; return False (and change nothing) when already ended."""
    if not stream.is_active:
        return False
    now = utcnow()
    stream.is_active = False
    stream.end_time = now
    await session.execute(
        update(PinnedProduct)
        .where(PinnedProduct.livestream_id == stream.id, PinnedProduct.unpinned_at.is_(None))
        .values(unpinned_at=now)
    )
    await touch(session, stream.id)
    return True


async def record_peak(session: AsyncSession, livestream_id: int, viewers: int) -> None:
    """Raise the stored peak to ``viewers`` if it is higher (never lowers it)."""
    await session.execute(
        update(Livestream)
        .where(Livestream.id == livestream_id, Livestream.peak_viewers < viewers)
        .values(peak_viewers=viewers)
    )


async def delete_show(session: AsyncSession, stream: Livestream) -> None:
    await session.execute(delete(Livestream).where(Livestream.id == stream.id))


# --- pins -----------------------------------------------------------------------------------


async def current_pins(session: AsyncSession, livestream_id: int) -> list[Product]:
    """The products pinned now, in pin order (oldest pin first)."""
    result = await session.execute(
        select(Product)
        .join(PinnedProduct, PinnedProduct.product_id == Product.id)
        .where(PinnedProduct.livestream_id == livestream_id, PinnedProduct.unpinned_at.is_(None))
        .order_by(PinnedProduct.position)
    )
    return list(result.scalars())


async def pins_for(session: AsyncSession, ids: list[int]) -> dict[int, list[Product]]:
    """Current pins of several shows at once (one query), in pin order."""
    out: dict[int, list[Product]] = {i: [] for i in ids}
    if not ids:
        return out
    result = await session.execute(
        select(PinnedProduct.livestream_id, Product)
        .join(Product, PinnedProduct.product_id == Product.id)
        .where(PinnedProduct.livestream_id.in_(ids), PinnedProduct.unpinned_at.is_(None))
        .order_by(PinnedProduct.livestream_id, PinnedProduct.position)
    )
    for stream_id, product in result.all():
        out[stream_id].append(product)
    return out


async def pin(session: AsyncSession, stream: Livestream, product: Product) -> bool:
    """Pin ``product`` at the end; return False when it was already pinned (nothing changes).

    Callers hold the show's row lock (``get_for_update``) so positions are unique; the unique partial
    index also refuses a duplicate current pin.
    """
    existing = await session.execute(
        select(PinnedProduct.id).where(
            PinnedProduct.livestream_id == stream.id,
            PinnedProduct.product_id == product.id,
            PinnedProduct.unpinned_at.is_(None),
        )
    )
    if existing.first() is not None:
        return False
    top = await session.execute(
        select(func.max(PinnedProduct.position)).where(PinnedProduct.livestream_id == stream.id)
    )
    position = (top.scalar_one() or 0) + 1
    session.add(
        PinnedProduct(
            livestream_id=stream.id, product_id=product.id, position=position, pinned_at=utcnow()
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent pin of the same product won
        raise Conflict("already pinned") from exc
    await touch(session, stream.id)
    return True


async def unpin(session: AsyncSession, livestream_id: int, product_id: int) -> bool:
    """Unpin; return False when the product was not pinned. Callers hold the show's row lock."""
    result = await session.execute(
        update(PinnedProduct)
        .where(
            PinnedProduct.livestream_id == livestream_id,
            PinnedProduct.product_id == product_id,
            PinnedProduct.unpinned_at.is_(None),
        )
        .values(unpinned_at=utcnow())
    )
    if not getattr(result, "rowcount", 0):
        return False
    await touch(session, livestream_id)
    return True


async def pin_history(session: AsyncSession, livestream_id: int) -> list[PinnedProduct]:
    result = await session.execute(
        select(PinnedProduct)
        .where(PinnedProduct.livestream_id == livestream_id)
        .order_by(PinnedProduct.pinned_at, PinnedProduct.id)
    )
    return list(result.scalars())
