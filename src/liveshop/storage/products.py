"""The catalogue. Deleting a product hides it (pins and replays keep referring to it).

A live product's handle, and its SKU when it has one, are unique (partial unique indexes): a
write that would take another live product's is refused with :class:`Conflict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.domain.catalogue_import import Existing, Plan
from liveshop.domain.handles import unique_handle
from liveshop.domain.shopify_csv import ExportProduct
from liveshop.storage.errors import Conflict, NotFound
from liveshop.storage.models import PinnedProduct, Product, utcnow

EDITABLE = frozenset(
    {
        "name", "description", "price", "currency", "image_url", "product_url", "stock",
        "handle", "sku", "image_key",
    }
)  # fmt: skip
TAKEN = "another product already has this handle or SKU"


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(TAKEN) from exc


async def _live_handles_like(session: AsyncSession, name: str) -> set[str]:
    base = unique_handle(name, ())
    result = await session.execute(
        select(Product.handle).where(
            Product.deleted_at.is_(None),
            or_(Product.handle == base, Product.handle.like(f"{base}-%")),
        )
    )
    return set(result.scalars())


async def create(session: AsyncSession, **fields: Any) -> Product:
    """A new product; without a handle it gets one made from its name (``-2``… when taken).
    Raises :class:`Conflict` when the handle or SKU is another live product's."""
    values = {k: v for k, v in fields.items() if k in EDITABLE and v is not None}
    if not values.get("handle"):
        values["handle"] = unique_handle(
            values["name"], await _live_handles_like(session, values["name"])
        )
    product = Product(**values)
    session.add(product)
    await _flush(session)
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
    """Products newest first; returns the page and the cursor for the next one (None at the end).
    ``q`` matches name, description, SKU or handle, ignoring case."""
    stmt = select(Product).where(Product.deleted_at.is_(None))
    if before is not None:
        stmt = stmt.where(Product.id < before)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (Product.name, Product.description, Product.sku, Product.handle)
                )
            )
        )
    rows = list(
        (await session.execute(stmt.order_by(Product.id.desc()).limit(limit + 1))).scalars()
    )
    nxt = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], nxt


async def update(session: AsyncSession, product: Product, fields: dict[str, Any]) -> Product:
    """Set the given fields. A new ``image_url`` without an ``image_key`` drops the uploaded
    picture's other sizes (the URL is no longer that picture). Raises :class:`Conflict` when the
    handle or SKU is another live product's."""
    _set(product, fields)
    await _flush(session)
    return product


def _set(product: Product, fields: dict[str, Any]) -> None:
    if "image_url" in fields and fields["image_url"] != product.image_url:
        fields = {"image_key": "", **fields}
    for key, value in fields.items():
        if key in EDITABLE:
            setattr(product, key, value)
    product.updated_at = utcnow()


async def soft_delete(session: AsyncSession, product: Product) -> None:
    """Hide the product from the catalogue. Its row stays: past shows' pins, replays and reports
    keep showing it. Callers unpin it from live shows (:func:`pinned_in`)."""
    product.deleted_at = utcnow()
    await session.flush()


async def pinned_in(session: AsyncSession, product_ids: Sequence[int]) -> list[int]:
    """The shows that have one of the products pinned now (one query)."""
    if not product_ids:
        return []
    result = await session.execute(
        select(PinnedProduct.livestream_id)
        .where(PinnedProduct.product_id.in_(list(product_ids)), PinnedProduct.unpinned_at.is_(None))
        .distinct()
        .order_by(PinnedProduct.livestream_id)
    )
    return list(result.scalars())


async def count(session: AsyncSession) -> int:
    result = await session.execute(
        select(func.count()).select_from(Product).where(Product.deleted_at.is_(None))
    )
    return int(result.scalar_one())


# --- CSV import and export ------------------------------------------------------------------


async def _live(session: AsyncSession) -> list[Product]:
    result = await session.execute(
        select(Product).where(Product.deleted_at.is_(None)).order_by(Product.id)
    )
    return list(result.scalars())


async def catalogue_for_import(session: AsyncSession) -> list[Existing]:
    """Every live product, as :func:`liveshop.domain.catalogue_import.plan` compares them."""
    return [
        Existing(
            id=p.id,
            handle=p.handle,
            sku=p.sku,
            name=p.name,
            description=p.description,
            price=p.price,
            currency=p.currency,
            stock=p.stock,
            image_url=p.image_url,
            product_url=p.product_url,
        )
        for p in await _live(session)
    ]


async def apply_import(session: AsyncSession, plan: Plan) -> list[Product]:
    """Write the plan (creates and updates) in the caller's transaction, in one flush (batched
    statements): all of it or, on any error, none (the caller's transaction rolls back; a handle
    or SKU taken meanwhile raises :class:`Conflict`). Returns the products written, in plan order."""
    live = {p.id: p for p in await _live(session)}
    written: list[Product] = []
    for item in plan.items:
        if item.action == "create":
            product = Product(**{k: v for k, v in item.fields.items() if k in EDITABLE})
            session.add(product)
            written.append(product)
        elif item.action == "update" and item.product_id is not None:
            if item.product_id not in live:
                raise Conflict("a product of the import was deleted meanwhile: import again")
            _set(live[item.product_id], dict(item.fields))
            written.append(live[item.product_id])
    await _flush(session)
    return written


async def for_export(session: AsyncSession) -> list[ExportProduct]:
    """Every live product, oldest first, for a Shopify CSV."""
    return [
        ExportProduct(
            handle=p.handle,
            name=p.name,
            description=p.description,
            price=p.price,
            currency=p.currency,
            stock=p.stock,
            sku=p.sku,
            image_url=p.image_url,
            product_url=p.product_url,
        )
        for p in await _live(session)
    ]
