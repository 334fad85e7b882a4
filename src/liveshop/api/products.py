"""``/api/products``: the catalogue (public reads, seller writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from liveshop.announcer import SHOWS
from liveshop.api.deps import ADMIN_ONLY, AdminDep, AnnouncerDep, DbDep, not_found
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import ProductCreate, ProductEnvelope, ProductList, ProductUpdate
from liveshop.api.validation import IdPath, text
from liveshop.protocol import product_out
from liveshop.storage import products

router = APIRouter(prefix="/api/products", tags=["products"], route_class=ApiRoute)

CACHE_GROUP = "products"
NOT_FOUND = not_found("product")


@router.get("", response_model=ProductList)
async def list_products(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    q: Annotated[text(100) | None, Query()] = None,  # type: ignore[valid-type]
) -> ProductList:
    """Products newest first; ``next`` is the ``before=`` cursor of the next page, null at the end.
    ``q`` matches name or description, case-insensitively. Served from the read cache when warm."""
    async with db.session() as session:
        rows, nxt = await products.list_page(session, limit=limit, before=before, q=q or None)
    return ProductList(products=[product_out(p) for p in rows], next=nxt)


@router.get("/{product_id:int}", response_model=ProductEnvelope, responses=NOT_FOUND)
async def get_product(product_id: IdPath, db: DbDep) -> ProductEnvelope:
    async with db.session() as session:
        product = await products.get(session, product_id)
    return ProductEnvelope(product=product_out(product))


@router.post("", response_model=ProductEnvelope, status_code=201, responses=ADMIN_ONLY)
async def create_product(
    body: ProductCreate, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> ProductEnvelope:
    async with db.session() as session:
        product = await products.create(session, **body.model_dump())
    await announcer.invalidate(CACHE_GROUP)
    return ProductEnvelope(product=product_out(product))


@router.patch(
    "/{product_id:int}", response_model=ProductEnvelope, responses={**ADMIN_ONLY, **NOT_FOUND}
)
async def update_product(
    product_id: IdPath, body: ProductUpdate, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> ProductEnvelope:
    """Change the given fields; omitted (or null) fields keep their value."""
    async with db.session() as session:
        product = await products.get(session, product_id)
        await products.update(session, product, body.model_dump(exclude_none=True))
    await announcer.invalidate(CACHE_GROUP, SHOWS)
    return ProductEnvelope(product=product_out(product))


@router.delete("/{product_id:int}", status_code=204, responses={**ADMIN_ONLY, **NOT_FOUND})
async def delete_product(
    product_id: IdPath, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> Response:
    """Remove from the catalogue (past shows' pins still refer to it)."""
    async with db.session() as session:
        product = await products.get(session, product_id)
        await products.soft_delete(session, product)
    await announcer.invalidate(CACHE_GROUP, SHOWS)
    return Response(status_code=204)
