"""``/api/livestreams``: shows, their pins and their chat history."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from liveshop import protocol
from liveshop.api.deps import ADMIN_ONLY, CONFLICT, AdminDep, ServicesDep, not_found
from liveshop.api.events import invalidate, publish_global, publish_show
from liveshop.api.schemas import (
    ChatList,
    LivestreamCreate,
    LivestreamEnvelope,
    LivestreamList,
    LivestreamOut,
    LivestreamUpdate,
    PinBody,
    PinnedOut,
    chat_out,
    dump,
    livestream_out,
    product_out,
)
from liveshop.replay.files import remove_show_files
from liveshop.services import Services
from liveshop.storage import chat, livestreams, products
from liveshop.storage.errors import Conflict
from liveshop.storage.models import Livestream

router = APIRouter(prefix="/api/livestreams", tags=["livestreams"])

CACHE_GROUP = "livestreams"
NOT_FOUND = not_found("livestream")


async def _viewers(services: Services, stream: Livestream) -> int:
    return await services.broker.presence_count(stream.id) if stream.is_active else 0


async def _out(services: Services, session: Any, stream: Livestream) -> LivestreamOut:
    pins = await livestreams.current_pins(session, stream.id)
    return livestream_out(stream, pins, await _viewers(services, stream))


@router.post(
    "",
    response_model=LivestreamEnvelope,
    status_code=201,
    responses={**ADMIN_ONLY, 409: {"description": "Another livestream is active"}},
)
async def create_livestream(
    body: LivestreamCreate, identity: AdminDep, services: ServicesDep
) -> LivestreamEnvelope:
    """Start a show now. At most one show is active: the database refuses a second (409), whatever
    the concurrency. Broadcasts ``stream_started`` to every socket."""
    async with services.db.session() as session:
        stream = await livestreams.create(
            session,
            title=body.title,
            description=body.description,
            quality=body.quality,
            created_by=identity.id,
        )
    out = livestream_out(stream, [], 0)
    await invalidate(services, CACHE_GROUP)
    await publish_global(services, protocol.stream_started(dump(out), stream.revision))
    return LivestreamEnvelope(livestream=out)


@router.get("/active", response_model=LivestreamEnvelope)
async def active_livestream(services: ServicesDep) -> LivestreamEnvelope:
    """The active show or ``{livestream: null}``. Served from the read cache when warm."""
    async with services.db.session() as session:
        stream = await livestreams.active(session)
        out = await _out(services, session, stream) if stream else None
    return LivestreamEnvelope(livestream=out)


@router.get("", response_model=LivestreamList)
async def list_livestreams(
    services: ServicesDep,
    status: Literal["active", "ended"] | None = None,
    recorded: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> LivestreamList:
    """Shows newest first; ``next`` is the ``before=`` cursor of the next page, null at the end."""
    async with services.db.session() as session:
        rows, nxt = await livestreams.list_page(
            session, status=status, limit=limit, before=before, recorded=recorded
        )
        pins = await livestreams.pins_for(session, [s.id for s in rows if s.is_active])
    items = [livestream_out(s, pins.get(s.id, []), await _viewers(services, s)) for s in rows]
    return LivestreamList(livestreams=items, next=nxt)


@router.get("/{livestream_id}", response_model=LivestreamEnvelope, responses=NOT_FOUND)
async def get_livestream(livestream_id: int, services: ServicesDep) -> LivestreamEnvelope:
    async with services.db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        return LivestreamEnvelope(livestream=await _out(services, session, stream))


async def _update(
    livestream_id: int, body: LivestreamUpdate, services: Services
) -> LivestreamEnvelope:
    async with services.db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        await livestreams.update_fields(session, stream, body.model_dump(exclude_none=True))
        out = await _out(services, session, stream)
    await invalidate(services, CACHE_GROUP)
    await publish_global(services, protocol.stream_update(dump(out), stream.revision))
    return LivestreamEnvelope(livestream=out)


@router.patch(
    "/{livestream_id}", response_model=LivestreamEnvelope, responses={**ADMIN_ONLY, **NOT_FOUND}
)
async def patch_livestream(
    livestream_id: int, body: LivestreamUpdate, _: AdminDep, services: ServicesDep
) -> LivestreamEnvelope:
    """Change title, description, videoUrl, thumbnailUrl or isRecorded; broadcasts
    ``stream_update``."""
    return await _update(livestream_id, body, services)


@router.put(
    "/{livestream_id}", response_model=LivestreamEnvelope, responses={**ADMIN_ONLY, **NOT_FOUND}
)
async def put_livestream(
    livestream_id: int, body: LivestreamUpdate, _: AdminDep, services: ServicesDep
) -> LivestreamEnvelope:
    """Same as PATCH (the seed's clients send PUT with the fields they change)."""
    return await _update(livestream_id, body, services)


@router.post(
    "/{livestream_id}/stop",
    response_model=LivestreamEnvelope,
    responses={**ADMIN_ONLY, **NOT_FOUND},
)
async def stop_livestream(
    livestream_id: int, _: AdminDep, services: ServicesDep
) -> LivestreamEnvelope:
    """End the show: ``isActive`` false, ``endTime`` set, pins cleared. Idempotent: stopping an
    ended show answers it unchanged. Broadcasts ``stream_ended`` once."""
    async with services.db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        changed = await livestreams.stop(session, stream)
        out = await _out(services, session, stream)
    if changed:
        await invalidate(services, CACHE_GROUP)
        await publish_global(
            services, protocol.stream_ended(stream.id, stream.video_url, stream.revision)
        )
        await services.media.end_show(stream.id)
    return LivestreamEnvelope(livestream=out)


async def _pinned(session: Any, livestream_id: int) -> PinnedOut:
    return PinnedOut(
        pinned_products=[
            product_out(p) for p in await livestreams.current_pins(session, livestream_id)
        ]
    )


async def _pins_changed(services: Services, livestream_id: int, pins: PinnedOut, rev: int) -> None:
    await invalidate(services, CACHE_GROUP)
    payload = [dump(p) for p in pins.pinned_products]
    await publish_show(
        services, livestream_id, protocol.pinned_products_update(livestream_id, payload, rev)
    )


@router.post(
    "/{livestream_id}/pin-product",
    response_model=PinnedOut,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT},
)
async def pin_product(
    livestream_id: int, body: PinBody, _: AdminDep, services: ServicesDep
) -> PinnedOut:
    """Pin a product at the end of the show's list; pinning twice changes nothing. 404 for an
    unknown product, 409 for an ended show. Broadcasts ``pinned_products_update`` on change."""
    async with services.db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        if not stream.is_active:
            raise Conflict("Livestream has ended")
        product = await products.get(session, body.product_id)
        changed = await livestreams.pin(session, stream, product)
        pins = await _pinned(session, stream.id)
    if changed:
        await _pins_changed(services, livestream_id, pins, stream.revision)
    return pins


@router.delete(
    "/{livestream_id}/pin-product/{product_id}",
    response_model=PinnedOut,
    responses={**ADMIN_ONLY, **NOT_FOUND},
)
async def unpin_product(
    livestream_id: int, product_id: int, _: AdminDep, services: ServicesDep
) -> PinnedOut:
    """Unpin; unpinning a product that is not pinned changes nothing."""
    async with services.db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        changed = await livestreams.unpin(session, stream.id, product_id)
        pins = await _pinned(session, stream.id)
    if changed:
        await _pins_changed(services, livestream_id, pins, stream.revision)
    return pins


@router.delete(
    "/{livestream_id}", status_code=204, responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT}
)
async def delete_livestream(livestream_id: int, _: AdminDep, services: ServicesDep) -> Response:
    """Delete an ended show with its chat, pins, likes and files (409 while it is live)."""
    async with services.db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        if stream.is_active:
            raise Conflict("Stop the livestream before deleting it")
        await livestreams.delete_show(session, stream)
    await asyncio.to_thread(remove_show_files, services.settings.effective_media_dir, livestream_id)
    await invalidate(services, CACHE_GROUP)
    return Response(status_code=204)


@router.get("/{livestream_id}/chat", response_model=ChatList, responses=NOT_FOUND)
async def chat_history(
    livestream_id: int,
    services: ServicesDep,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ChatList:
    """Visible messages with id greater than ``after``, oldest first, at most ``limit``."""
    async with services.db.session() as session:
        await livestreams.get(session, livestream_id)
        rows = await chat.after(session, livestream_id, after_id=after, limit=limit)
    return ChatList(messages=[chat_out(m) for m in rows])
