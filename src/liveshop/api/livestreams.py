"""``/api/livestreams``: shows, their pins and their chat history."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from liveshop import protocol
from liveshop.announcer import SHOWS, Announcer
from liveshop.api.deps import (
    ADMIN_ONLY,
    CONFLICT,
    AdminDep,
    AnnouncerDep,
    DbDep,
    MediaDep,
    RenditionsDep,
    SettingsDep,
    not_found,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import (
    ChatList,
    LivestreamCreate,
    LivestreamEnvelope,
    LivestreamList,
    LivestreamUpdate,
    PinBody,
    PinnedOut,
)
from liveshop.api.validation import IdPath
from liveshop.protocol import LivestreamOut, chat_out, dump, livestream_out, product_out
from liveshop.replay.files import remove_show_files
from liveshop.storage import chat, livestreams, products
from liveshop.storage.errors import Conflict
from liveshop.storage.models import Livestream

router = APIRouter(prefix="/api/livestreams", tags=["livestreams"], route_class=ApiRoute)

NOT_FOUND = not_found("livestream")


async def _out(announcer: Announcer, session: Any, stream: Livestream) -> LivestreamOut:
    pins = await livestreams.current_pins(session, stream.id)
    return livestream_out(stream, pins, await announcer.viewers(stream.id, stream.is_active))


@router.post(
    "",
    response_model=LivestreamEnvelope,
    status_code=201,
    responses={**ADMIN_ONLY, 409: {"description": "Another livestream is active"}},
)
async def create_livestream(
    body: LivestreamCreate, identity: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    """Start a show now. At most one show is active: the database refuses a second (409), whatever
    the concurrency. Broadcasts ``stream_started`` to every socket."""
    async with db.session() as session:
        stream = await livestreams.create(
            session,
            title=body.title,
            description=body.description,
            quality=body.quality,
            created_by=identity.id,
        )
    out = livestream_out(stream, [], 0)
    await announcer.invalidate(SHOWS)
    await announcer.to_everyone(protocol.stream_started(dump(out), stream.revision))
    return LivestreamEnvelope(livestream=out)


@router.get("/active", response_model=LivestreamEnvelope)
async def active_livestream(db: DbDep, announcer: AnnouncerDep) -> LivestreamEnvelope:
    """The active show or ``{livestream: null}``. Served from the read cache when warm."""
    async with db.session() as session:
        stream = await livestreams.active(session)
        out = await _out(announcer, session, stream) if stream else None
    return LivestreamEnvelope(livestream=out)


@router.get("", response_model=LivestreamList)
async def list_livestreams(
    db: DbDep,
    announcer: AnnouncerDep,
    status: Literal["active", "ended"] | None = None,
    recorded: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> LivestreamList:
    """Shows newest first; ``next`` is the ``before=`` cursor of the next page, null at the end."""
    async with db.session() as session:
        rows, nxt = await livestreams.list_page(
            session, status=status, limit=limit, before=before, recorded=recorded
        )
        pins = await livestreams.pins_for(session, [s.id for s in rows if s.is_active])
    items = [
        livestream_out(s, pins.get(s.id, []), await announcer.viewers(s.id, s.is_active))
        for s in rows
    ]
    return LivestreamList(livestreams=items, next=nxt)


@router.get("/{livestream_id:int}", response_model=LivestreamEnvelope, responses=NOT_FOUND)
async def get_livestream(
    livestream_id: IdPath, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        return LivestreamEnvelope(livestream=await _out(announcer, session, stream))


async def _update(
    livestream_id: int, body: LivestreamUpdate, db: DbDep, announcer: Announcer
) -> LivestreamEnvelope:
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        await livestreams.update_fields(session, stream, body.model_dump(exclude_none=True))
    return LivestreamEnvelope(livestream=await announcer.show_changed(livestream_id))


@router.patch(
    "/{livestream_id:int}", response_model=LivestreamEnvelope, responses={**ADMIN_ONLY, **NOT_FOUND}
)
async def patch_livestream(
    livestream_id: IdPath, body: LivestreamUpdate, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    """Change title, description, videoUrl, thumbnailUrl or isRecorded; broadcasts
    ``stream_update``."""
    return await _update(livestream_id, body, db, announcer)


@router.put(
    "/{livestream_id:int}", response_model=LivestreamEnvelope, responses={**ADMIN_ONLY, **NOT_FOUND}
)
async def put_livestream(
    livestream_id: IdPath, body: LivestreamUpdate, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    """Same as PATCH (the seed's clients send PUT with the fields they change)."""
    return await _update(livestream_id, body, db, announcer)


@router.post(
    "/{livestream_id:int}/stop",
    response_model=LivestreamEnvelope,
    responses={**ADMIN_ONLY, **NOT_FOUND},
)
async def stop_livestream(
    livestream_id: IdPath,
    _: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
    media: MediaDep,
    renditions: RenditionsDep,
) -> LivestreamEnvelope:
    """End the show: ``isActive`` false, ``endTime`` set, pins cleared. Idempotent: stopping an
    ended show answers it unchanged. Broadcasts ``stream_ended`` once."""
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        changed = await livestreams.stop(session, stream)
        out = await _out(announcer, session, stream)
    if changed:
        await announcer.invalidate(SHOWS)
        await announcer.to_everyone(
            protocol.stream_ended(stream.id, stream.video_url, stream.revision)
        )
        await media.end_show(stream.id)
        await renditions.request_if_recorded(stream.id)  # the MP4 replay, in the background
    return LivestreamEnvelope(livestream=out)


async def _pinned(session: Any, livestream_id: int) -> PinnedOut:
    return PinnedOut(
        pinned_products=[
            product_out(p) for p in await livestreams.current_pins(session, livestream_id)
        ]
    )


async def _pins_changed(
    announcer: Announcer, livestream_id: int, pins: PinnedOut, rev: int
) -> None:
    await announcer.invalidate(SHOWS)
    payload = [dump(p) for p in pins.pinned_products]
    await announcer.to_show(
        livestream_id, protocol.pinned_products_update(livestream_id, payload, rev)
    )


@router.post(
    "/{livestream_id:int}/pin-product",
    response_model=PinnedOut,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT},
)
async def pin_product(
    livestream_id: IdPath, body: PinBody, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> PinnedOut:
    """Pin a product at the end of the show's list; pinning twice changes nothing. 404 for an
    unknown product, 409 for an ended show. Broadcasts ``pinned_products_update`` on change."""
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        if not stream.is_active:
            raise Conflict("Livestream has ended")
        product = await products.get(session, body.product_id)
        changed = await livestreams.pin(session, stream, product)
        pins = await _pinned(session, stream.id)
    if changed:
        await _pins_changed(announcer, livestream_id, pins, stream.revision)
    return pins


@router.delete(
    "/{livestream_id:int}/pin-product/{product_id:int}",
    response_model=PinnedOut,
    responses={**ADMIN_ONLY, **NOT_FOUND},
)
async def unpin_product(
    livestream_id: IdPath, product_id: IdPath, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> PinnedOut:
    """Unpin; unpinning a product that is not pinned changes nothing."""
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        changed = await livestreams.unpin(session, stream.id, product_id)
        pins = await _pinned(session, stream.id)
    if changed:
        await _pins_changed(announcer, livestream_id, pins, stream.revision)
    return pins


@router.delete(
    "/{livestream_id:int}", status_code=204, responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT}
)
async def delete_livestream(
    livestream_id: IdPath, _: AdminDep, db: DbDep, announcer: AnnouncerDep, settings: SettingsDep
) -> Response:
    """Delete an ended show with its chat, pins, likes and files (409 while it is live)."""
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        if stream.is_active:
            raise Conflict("Stop the livestream before deleting it")
        await livestreams.delete_show(session, stream)
    await asyncio.to_thread(remove_show_files, settings.effective_media_dir, livestream_id)
    await announcer.invalidate(SHOWS)
    return Response(status_code=204)


@router.get("/{livestream_id:int}/chat", response_model=ChatList, responses=NOT_FOUND)
async def chat_history(
    livestream_id: IdPath,
    db: DbDep,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ChatList:
    """Visible messages with id greater than ``after``, oldest first, at most ``limit``."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        rows = await chat.after(session, livestream_id, after_id=after, limit=limit)
    return ChatList(messages=[chat_out(m) for m in rows])
