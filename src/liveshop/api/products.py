"""``/api/products``: the catalogue (public reads, seller writes) and product pictures.

A product pinned in a live show that is edited is sent to the show again (``pinned_products_update``);
one that is deleted is unpinned from it first. Deleting hides a product from the catalogue and
search; its row stays, so past shows' replays, timelines and reports still show it.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from liveshop import pictures
from liveshop.announcer import SHOWS, Announcer
from liveshop.api.deps import (
    ADMIN_ONLY,
    CONFLICT,
    AdminDep,
    AnnouncerDep,
    DbDep,
    SettingsDep,
    not_found,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import ProductCreate, ProductEnvelope, ProductList, ProductUpdate
from liveshop.api.validation import IdPath, text
from liveshop.protocol import dump, pinned_products_update, product_out
from liveshop.storage import livestreams, products
from liveshop.storage.engine import Database

router = APIRouter(prefix="/api/products", tags=["products"], route_class=ApiRoute)

CACHE_GROUP = "products"
NOT_FOUND = not_found("product")
PICTURE_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": f"Over {pictures.MAX_BYTES // (1024 * 1024)} MB"},
    415: {"description": "Not sent as image/jpeg, image/png, image/webp or image/gif"},
    422: {"description": "Not a picture, too many pixels (a decompression bomb) or too small"},
    507: {"description": "The server's disk is full"},
}


@router.get("", response_model=ProductList)
async def list_products(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    q: Annotated[text(100) | None, Query()] = None,  # type: ignore[valid-type]
) -> ProductList:
    """Products newest first; ``next`` is the ``before=`` cursor of the next page, null at the end.
    ``q`` matches name, description, SKU or handle, case-insensitively. Served from the read
    cache when warm."""
    async with db.session() as session:
        rows, nxt = await products.list_page(session, limit=limit, before=before, q=q or None)
    return ProductList(products=[product_out(p) for p in rows], next=nxt)


@router.get("/{product_id:int}", response_model=ProductEnvelope, responses=NOT_FOUND)
async def get_product(product_id: IdPath, db: DbDep) -> ProductEnvelope:
    async with db.session() as session:
        product = await products.get(session, product_id)
    return ProductEnvelope(product=product_out(product))


@router.post(
    "", response_model=ProductEnvelope, status_code=201, responses={**ADMIN_ONLY, **CONFLICT}
)
async def create_product(
    body: ProductCreate, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> ProductEnvelope:
    """A new product; ``handle`` is made from the name when omitted. 409 when the handle or the
    SKU is another product's."""
    async with db.session() as session:
        product = await products.create(session, **body.model_dump())
    await announcer.invalidate(CACHE_GROUP)
    return ProductEnvelope(product=product_out(product))


async def refresh_pins(
    db: Database, announcer: Announcer, product_ids: list[int], *, unpin: bool = False
) -> None:
    """Send the pins of every show that has one of the products pinned again (after an edit or an
    import), or unpin them from it first (``unpin``, after a delete); each change moves the show's
    revision."""
    async with db.session() as session:
        show_ids = await products.pinned_in(session, product_ids)
    for show_id in show_ids:
        async with db.session() as session:
            await livestreams.get_for_update(session, show_id)  # the show's lock, as pin does
            if unpin:
                for product_id in product_ids:
                    await livestreams.unpin(session, show_id, product_id)
            stream = await livestreams.touch(session, show_id)
            pins = [dump(product_out(p)) for p in await livestreams.current_pins(session, show_id)]
        await announcer.to_show(show_id, pinned_products_update(show_id, pins, stream.revision))
    if show_ids:
        await announcer.invalidate(SHOWS)


@router.patch(
    "/{product_id:int}",
    response_model=ProductEnvelope,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT},
)
async def update_product(
    product_id: IdPath, body: ProductUpdate, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> ProductEnvelope:
    """Change the given fields; omitted (or null) fields keep their value. A live show that has it
    pinned gets the new product at once."""
    async with db.session() as session:
        product = await products.get(session, product_id)
        await products.update(session, product, body.model_dump(exclude_none=True))
    await announcer.invalidate(CACHE_GROUP)
    await refresh_pins(db, announcer, [product_id])
    return ProductEnvelope(product=product_out(product))


@router.delete("/{product_id:int}", status_code=204, responses={**ADMIN_ONLY, **NOT_FOUND})
async def delete_product(
    product_id: IdPath, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> Response:
    """Remove from the catalogue and unpin it from a live show; past shows' pins, replays and
    reports still show it. Its handle and SKU are free again."""
    async with db.session() as session:
        product = await products.get(session, product_id)
        await products.soft_delete(session, product)
    await announcer.invalidate(CACHE_GROUP)
    await refresh_pins(db, announcer, [product_id], unpin=True)
    return Response(status_code=204)


@router.put(
    "/{product_id:int}/picture",
    response_model=ProductEnvelope,
    responses={**ADMIN_ONLY, **NOT_FOUND, **PICTURE_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in pictures.CONTENT_TYPES
            },
        }
    },
)
async def put_picture(
    product_id: IdPath,
    request: Request,
    _: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
    settings: SettingsDep,
) -> ProductEnvelope:
    """Set the product's picture: a JPEG, PNG, WebP or GIF up to 10 MB and 40 megapixels. Stored
    as WebP 160, 480 and 1024 px wide (``images``; ``imageUrl`` is the 480 one) without its
    EXIF data, under content-hashed names served with ``Cache-Control: immutable``."""
    async with db.session() as session:
        await products.get(session, product_id)  # 404 before reading the body
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in pictures.CONTENT_TYPES:
        raise HTTPException(
            415, "send the picture as image/jpeg, image/png, image/webp or image/gif"
        )
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > pictures.MAX_BYTES:
            raise HTTPException(
                413, f"pictures are limited to {pictures.MAX_BYTES // (1024 * 1024)} MB"
            )
    try:
        stored = await asyncio.to_thread(pictures.store, bytes(data), settings.effective_media_dir)
    except pictures.BadPicture as exc:
        raise HTTPException(
            422, [{"loc": ["body"], "field": "body", "msg": str(exc), "type": "bad_picture"}]
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise HTTPException(507, "the server's disk is full") from None
        raise
    async with db.session() as session:
        product = await products.get(session, product_id)
        await products.update(session, product, {"image_url": stored.url, "image_key": stored.key})
    await announcer.invalidate(CACHE_GROUP)
    await refresh_pins(db, announcer, [product_id])
    return ProductEnvelope(product=product_out(product))
