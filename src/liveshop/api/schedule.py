"""Scheduled shows: ``/api/livestreams/scheduled``, ``/upcoming``, their planned products, the
"add to calendar" file and "Go live", which turns an upcoming show into the live one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from liveshop import protocol
from liveshop.announcer import SHOWS
from liveshop.api.deps import (
    ADMIN_ONLY,
    CONFLICT,
    AdminDep,
    AnnouncerDep,
    DbDep,
    Responses,
    not_found,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import (
    LivestreamEnvelope,
    LivestreamList,
    PlannedProductsBody,
    PlannedProductsOut,
    RescheduleBody,
    ScheduledCreate,
)
from liveshop.api.validation import IdPath
from liveshop.domain.calendar import ShowEvent, show_calendar
from liveshop.domain.schedule import schedule_problem
from liveshop.protocol import dump, livestream_out, product_out
from liveshop.storage import livestreams, schedule
from liveshop.storage.errors import Conflict
from liveshop.storage.models import utcnow

router = APIRouter(prefix="/api/livestreams", tags=["scheduled shows"], route_class=ApiRoute)

NOT_FOUND = not_found("livestream")
SHOW_LENGTH = timedelta(hours=1)  # the calendar entry's length (a show has no planned end)
CALENDAR: Responses = {
    200: {"description": "An iCalendar file (RFC 5545)", "content": {"text/calendar": {}}}
}


def check_time(at: datetime) -> None:
    """422 naming ``scheduledAt`` when ``at`` cannot be a show's planned time."""
    problem = schedule_problem(at, utcnow())
    if problem:
        raise HTTPException(
            422,
            [{"loc": ["body", "scheduledAt"], "field": "scheduledAt", "msg": problem,
              "type": "value_error"}],
        )  # fmt: skip


@router.post(
    "/scheduled",
    response_model=LivestreamEnvelope,
    status_code=201,
    responses={**ADMIN_ONLY, **not_found("product")},
)
async def schedule_show(
    body: ScheduledCreate, identity: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    """Announce a show: title, time, planned products (404 for an unknown one). The cover picture
    is the show's thumbnail (``PUT /api/livestreams/{id}/thumbnail``). 422 for a time in the past
    or more than a year ahead."""
    check_time(body.scheduled_at)
    async with db.session() as session:
        stream = await schedule.create(
            session,
            title=body.title,
            description=body.description,
            quality=body.quality,
            scheduled_at=body.scheduled_at,
            created_by=identity.id,
            product_ids=body.product_ids,
        )
    await announcer.invalidate(SHOWS)
    return LivestreamEnvelope(livestream=livestream_out(stream, [], 0))


@router.get("/upcoming", response_model=LivestreamList)
async def upcoming_shows(
    db: DbDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> LivestreamList:
    """Upcoming shows, soonest first (``next`` is always null)."""
    async with db.session() as session:
        rows = await schedule.upcoming(session, limit=limit)
    return LivestreamList(livestreams=[livestream_out(s, [], 0) for s in rows], next=None)


@router.get(
    "/{livestream_id:int}/planned-products",
    response_model=PlannedProductsOut,
    responses=NOT_FOUND,
)
async def planned_products(livestream_id: IdPath, db: DbDep) -> PlannedProductsOut:
    """The products announced for the show, in the seller's order (deleted ones left out)."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        rows = await schedule.planned(session, livestream_id)
    return PlannedProductsOut(products=[product_out(p) for p in rows])


@router.put(
    "/{livestream_id:int}/planned-products",
    response_model=PlannedProductsOut,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT},
)
async def replace_planned_products(
    livestream_id: IdPath, body: PlannedProductsBody, _: AdminDep, db: DbDep
) -> PlannedProductsOut:
    """Replace an upcoming show's planned products (409 once it is live or ended)."""
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        if not stream.upcoming:
            raise Conflict("Only an upcoming show's plan can change")
        await schedule.set_planned(session, livestream_id, body.product_ids)
        rows = await schedule.planned(session, livestream_id)
    return PlannedProductsOut(products=[product_out(p) for p in rows])


@router.put(
    "/{livestream_id:int}/schedule",
    response_model=LivestreamEnvelope,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT},
)
async def reschedule_show(
    livestream_id: IdPath, body: RescheduleBody, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    """Move an upcoming show to another time (422 as for scheduling; 409 once it is live or
    ended). Broadcasts ``stream_update``; the calendar file follows."""
    check_time(body.scheduled_at)
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        await schedule.reschedule(session, stream, body.scheduled_at)
    return LivestreamEnvelope(livestream=await announcer.show_changed(livestream_id))


@router.post(
    "/{livestream_id:int}/go-live",
    response_model=LivestreamEnvelope,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT},
)
async def go_live(
    livestream_id: IdPath, _: AdminDep, db: DbDep, announcer: AnnouncerDep
) -> LivestreamEnvelope:
    """Start an upcoming show now: the same show (same id) becomes the live one. 409 when it is
    not upcoming or another show is live (at most one is active). Broadcasts ``stream_started``."""
    async with db.session() as session:
        stream = await livestreams.get_for_update(session, livestream_id)
        await schedule.go_live(session, stream)
    out = livestream_out(stream, [], 0)
    await announcer.invalidate(SHOWS)
    await announcer.to_everyone(protocol.stream_started(dump(out), stream.revision))
    return LivestreamEnvelope(livestream=out)


@router.get(
    "/{livestream_id:int}/calendar.ics",
    response_class=Response,
    responses={**CALENDAR, **NOT_FOUND},
)
async def calendar_file(livestream_id: IdPath, db: DbDep, request: Request) -> Response:
    """The show as one calendar event (an hour from its scheduled or actual start, a reminder 15
    minutes before), linking to its watch page."""
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
    base = str(request.base_url).rstrip("/")
    event = ShowEvent(
        uid=f"livestream-{stream.id}@{request.url.hostname or 'liveshop'}",
        title=stream.title,
        description=stream.description,
        start=stream.scheduled_at or stream.start_time,
        duration=SHOW_LENGTH,
        url=f"{base}/live/{stream.id}",
        stamp=utcnow(),
    )
    return Response(
        show_calendar(event),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="liveshop-show-{stream.id}.ics"',
            "Cache-Control": "no-cache",
        },
    )
