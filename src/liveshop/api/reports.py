"""After (and during) the show: the replay timeline, Buy clicks, and the seller's report."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter

from liveshop.api.deps import ADMIN_ONLY, AdminDep, DbDep, IdentityDep, SettingsDep, not_found
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import Body, PinBody
from liveshop.api.validation import IdPath
from liveshop.domain.report import Interval, figures, offset
from liveshop.protocol import ChatMessageOut, Out, ProductOut, chat_out, product_out
from liveshop.storage import analytics, livestreams, products
from liveshop.storage.models import Livestream, utcnow

router = APIRouter(prefix="/api/livestreams", tags=["reports"], route_class=ApiRoute)


def _end(stream: Livestream) -> datetime:
    return stream.end_time or utcnow()


class TimelineChat(Out):
    offset_seconds: float
    message: ChatMessageOut


class TimelinePin(Out):
    product: ProductOut
    pinned_at_seconds: float
    unpinned_at_seconds: float | None


class Timeline(Out):
    livestream_id: int
    start_time: datetime
    duration_seconds: float
    chat: list[TimelineChat]
    pins: list[TimelinePin]


@router.get(
    "/{livestream_id:int}/timeline", response_model=Timeline, responses=not_found("livestream")
)
async def timeline(livestream_id: IdPath, db: DbDep) -> Timeline:
    """Chat messages and pins with their offsets (seconds) from the show's start, for replays:
    at offset *t* the chat shows messages with ``offsetSeconds ≤ t`` and the products on screen are
    the pins with ``pinnedAtSeconds ≤ t < unpinnedAtSeconds`` (null: until the end)."""
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        messages = await analytics.all_chat(session, livestream_id)
        history = await livestreams.pin_history(session, livestream_id)
        catalogue = await products.get_many(session, list({p.product_id for p in history}))
    start = stream.start_time
    return Timeline(
        livestream_id=stream.id,
        start_time=start,
        duration_seconds=round(offset(_end(stream), start), 3),
        chat=[
            TimelineChat(offset_seconds=round(offset(m.created_at, start), 3), message=chat_out(m))
            for m in messages
        ],
        pins=[
            TimelinePin(
                product=product_out(catalogue[p.product_id]),
                pinned_at_seconds=round(offset(p.pinned_at, start), 3),
                unpinned_at_seconds=round(offset(p.unpinned_at, start), 3)
                if p.unpinned_at
                else None,
            )
            for p in history
            if p.product_id in catalogue
        ],
    )


class ClickOut(Out):
    counted: bool


class ClickBody(PinBody, Body):
    pass


@router.post(
    "/{livestream_id:int}/product-clicks",
    response_model=ClickOut,
    status_code=202,
    responses={401: {"description": "No valid token"}, **not_found("livestream or product")},
)
async def product_click(
    livestream_id: IdPath,
    body: ClickBody,
    identity: IdentityDep,
    db: DbDep,
    settings: SettingsDep,
) -> ClickOut:
    """Count a click on Buy: once per identity, product and minute, and only from an identity
    that has watched the show for ``LIVESHOP_TRUSTED_AFTER_SECONDS`` (``counted`` says whether
    this one was; the Buy link works either way)."""
    trusted_after = settings.trusted_after_seconds
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        await products.get(session, body.product_id, include_deleted=True)
        watched = trusted_after <= 0 or await analytics.has_watched(
            session,
            livestream_id,
            identity.id,
            joined_before=utcnow() - timedelta(seconds=trusted_after),
        )
        counted = watched and await analytics.add_click(
            session, livestream_id, body.product_id, identity.id
        )
    return ClickOut(counted=counted)


class ViewersPoint(Out):
    offset_seconds: int
    viewers: int


class ProductReport(Out):
    product: ProductOut
    seconds_on_screen: float
    clicks: int
    click_through: float


class Report(Out):
    duration_seconds: float
    peak_viewers: int
    average_viewers: float
    viewers_over_time: list[ViewersPoint]
    chat_messages: int
    likes: int
    unique_addresses: int
    products: list[ProductReport]


@router.get(
    "/{livestream_id:int}/report",
    response_model=Report,
    responses={**ADMIN_ONLY, **not_found("livestream")},
)
async def report(livestream_id: IdPath, _: AdminDep, db: DbDep) -> Report:
    """How the show did. ``viewersOverTime`` has one point a minute; ``clickThrough`` is clicks /
    distinct viewers who watched while the product was pinned."""
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        rows = await analytics.sessions(session, livestream_id)
        history = await livestreams.pin_history(session, livestream_id)
        clicks = await analytics.clicks_by_product(session, livestream_id)
        chat_messages = await analytics.chat_count(session, livestream_id)
        addresses = await analytics.unique_addresses(session, livestream_id)
        catalogue = await products.get_many(session, list({p.product_id for p in history}))
    start, end = stream.start_time, _end(stream)
    duration = offset(end, start)
    sessions: dict[str, list[Interval]] = {}
    for viewer, joined, left in rows:
        sessions.setdefault(viewer, []).append(
            Interval(offset(joined, start), offset(left or end, start))
        )
    pins: dict[int, list[Interval]] = {}
    for pin in history:
        pins.setdefault(pin.product_id, []).append(
            Interval(offset(pin.pinned_at, start), offset(pin.unpinned_at or end, start))
        )
    result = figures(duration, sessions, pins, clicks)
    return Report(
        duration_seconds=round(duration, 3),
        peak_viewers=stream.peak_viewers,
        average_viewers=result.average_viewers,
        viewers_over_time=[
            ViewersPoint(offset_seconds=t, viewers=v) for t, v in result.viewers_over_time
        ],
        chat_messages=chat_messages,
        likes=stream.likes,
        unique_addresses=addresses,
        products=[
            ProductReport(
                product=product_out(catalogue[p.product_id]),
                seconds_on_screen=p.seconds_on_screen,
                clicks=p.clicks,
                click_through=p.click_through,
            )
            for p in result.products
            if p.product_id in catalogue
        ],
    )
