"""The catalogue. Deleting a product hides it (pins and replays keep referring to it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.errors import NotFound
from liveshop.storage.models import Product, utcnow

EDITABLE = frozenset(
    {"name", "description", "price", "currency", "image_url", "product_url", "stock"}
)


async def create(session: AsyncSession, **fields: Any) -> Product:
    product = Product(**{k: v for k, v in fields.items() if k in EDITABLE})
    session.add(product)
    await session.flush()
    return product


async def get(session: AsyncSession, product_id: int, *, include_deleted: bool = False) -> Product:
    """The product; raise :class:`NotFound` when missing or (unless asked) deleted."""
    product = await session.get(Product, product_id)
    if product is None or (product.deleted_at is not None and not include_deleted):
        raise NotFound("product not found")
    return product


async def get_many(session: AsyncSession, ids: Sequence[int]) -> dict[int, Product]:
    if not ids:
        return {}
    result = await session.execute(select(Product).where(Product.id.in_(list(ids))))
    return {p.id: p for p in result.scalars()}


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_page(
    session: AsyncSession, *, limit: int, before: int | None = None, q: str | None = None
) -> tuple[list[Product], int | None]:
    """Products newest first; returns the page and the cursor for the next one (None at the end)."""
    stmt = select(Product).where(Product.deleted_at.is_(None))
    if before is not None:
        stmt = stmt.where(Product.id < before)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.description).like(pattern, escape="\\"),
            )
        )
    rows = list(
        (await session.execute(stmt.order_by(Product.id.desc()).limit(limit + 1))).scalars()
    )
    nxt = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], nxt


async def update(session: AsyncSession, product: Product, fields: dict[str, Any]) -> Product:
    for key, value in fields.items():
        if key in EDITABLE:
            setattr(product, key, value)
    product.updated_at = utcnow()
    await session.flush()
    return product


async def soft_delete(session: AsyncSession, product: Product) -> None:
    product.deleted_at = utcnow()
    await session.flush()


async def count(session: AsyncSession) -> int:
    result = await session.execute(
        select(func.count()).select_from(Product).where(Product.deleted_at.is_(None))
    )
    return int(result.scalar_one())
