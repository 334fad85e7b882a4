"""WHIP (publish) and WHEP (watch) over HTTP, and the seller's live stats.

``POST /api/livestreams/{id}/whip`` with ``Content-Type: application/sdp`` and the seller's token
answers ``201`` with the SDP answer and the session's ``Location``; ``DELETE`` on that location
stops. ``/whep`` is the same for viewers (any valid token). One publisher per show (409, or
``?replace=1`` for the same seller).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from liveshop.api.deps import (
    ADMIN_ONLY,
    AdminDep,
    DbDep,
    IdentityDep,
    MediaDep,
    PublisherDep,
    SettingsDep,
    not_found,
)
from liveshop.api.ice import ice_links_for
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import PlaybackBody, PlayerSizeBody
from liveshop.api.validation import IdPath
from liveshop.media.base import MediaBackend, MediaError, MediaSession, Playback
from liveshop.storage import livestreams
from liveshop.storage.engine import Database

router = APIRouter(prefix="/api/livestreams", tags=["media"], route_class=ApiRoute)

MAX_SDP_BYTES = 64 * 1024
SDP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/sdp": {"schema": {"type": "string"}}},
    }
}
SDP_ANSWER: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "SDP answer; Location names the session",
        "content": {"application/sdp": {"schema": {"type": "string"}}},
        "headers": {
            "Location": {
                "description": "The session: DELETE it to stop",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    },
    400: {"description": "Malformed SDP"},
    409: {"description": "Not live, ended, or already published"},
    413: {"description": "SDP over 64 KiB"},
    415: {"description": "Not application/sdp, or no usable codec"},
    422: {"description": "Offer without video"},
}


async def _offer(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/sdp":
        raise HTTPException(415, "Content-Type must be application/sdp")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SDP_BYTES:
            raise HTTPException(413, f"SDP offers are limited to {MAX_SDP_BYTES} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "SDP must be UTF-8 text") from None


async def _live_show(db: Database, livestream_id: int) -> None:
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
    if not stream.is_active:
        raise HTTPException(409, "not live")


async def _end(db: Database, media: MediaBackend, livestream_id: int, session_id: str) -> Response:
    """End a session: 200; 404 for an unknown session of a live show. Once the show has ended,
    every session is already over, so a late DELETE also answers 200."""
    if await media.end_session(livestream_id, session_id):
        return Response(status_code=200)
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
    if stream.is_active:
        raise HTTPException(404, "no such session")
    return Response(status_code=200)


def _answer(request: Request, kind: str, livestream_id: int, session: MediaSession) -> Response:
    response = Response(session.answer_sdp, 201, media_type="application/sdp")
    response.headers["Location"] = f"/api/livestreams/{livestream_id}/{kind}/{session.session_id}"
    if session.etag:
        response.headers["ETag"] = session.etag
    for link in ice_links_for(request):
        response.headers.append("Link", link)
    return response


@router.post(
    "/{livestream_id:int}/whip",
    status_code=201,
    response_class=Response,
    openapi_extra=SDP_BODY,
    responses={**ADMIN_ONLY, **not_found("livestream"), **SDP_ANSWER},
)
async def whip_publish(
    livestream_id: IdPath,
    request: Request,
    _: PublisherDep,
    db: DbDep,
    media: MediaDep,
    settings: SettingsDep,
    replace: Annotated[bool, Query()] = False,
) -> Response:
    """Publish the show's media (WHIP, RFC 9725): a seller's token or stream key."""
    offer = await _offer(request)
    await _live_show(db, livestream_id)
    try:
        session = await media.publish(livestream_id, offer, replace=replace)
    except MediaError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    return _answer(request, "whip", livestream_id, session)


active_router = APIRouter(prefix="/api", tags=["media"], route_class=ApiRoute)


@active_router.post(
    "/whip",
    status_code=201,
    response_class=Response,
    openapi_extra=SDP_BODY,
    responses={**ADMIN_ONLY, **SDP_ANSWER},
)
async def whip_publish_active(
    request: Request,
    identity: PublisherDep,
    db: DbDep,
    media: MediaDep,
    settings: SettingsDep,
    replace: Annotated[bool, Query()] = False,
) -> Response:
    """A stable WHIP URL for OBS: publishes to the active show (409 ``no show is live`` when there
    is none). The answer's ``Location`` is the show's session, as with ``…/{id}/whip``."""
    async with db.session() as session:
        stream = await livestreams.active(session)
    if stream is None:
        raise HTTPException(409, "no show is live: start one in the studio first")
    return await whip_publish(stream.id, request, identity, db, media, settings, replace)


@router.post(
    "/{livestream_id:int}/whep",
    status_code=201,
    response_class=Response,
    openapi_extra=SDP_BODY,
    responses={401: {"description": "No valid token"}, **not_found("livestream"), **SDP_ANSWER},
)
async def whep_watch(
    livestream_id: IdPath,
    request: Request,
    _: IdentityDep,
    db: DbDep,
    media: MediaDep,
    settings: SettingsDep,
) -> Response:
    """Watch the show (WHEP). ``409 {detail: "not live"}`` until the publisher is connected."""
    offer = await _offer(request)
    await _live_show(db, livestream_id)
    try:
        session = await media.watch(livestream_id, offer)
    except MediaError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    return _answer(request, "whep", livestream_id, session)


@router.delete(
    "/{livestream_id:int}/whip/{session_id}",
    status_code=200,
    response_class=Response,
    responses={**ADMIN_ONLY, **not_found("session")},
)
async def whip_stop(
    livestream_id: IdPath, session_id: str, _: PublisherDep, db: DbDep, media: MediaDep
) -> Response:
    """Stop publishing."""
    return await _end(db, media, livestream_id, session_id)


@router.delete(
    "/{livestream_id:int}/whep/{session_id}",
    status_code=200,
    response_class=Response,
    responses={401: {"description": "No valid token"}, **not_found("session")},
)
async def whep_stop(
    livestream_id: IdPath, session_id: str, _: IdentityDep, db: DbDep, media: MediaDep
) -> Response:
    """Stop watching (the session id, from ``Location``, is the capability)."""
    return await _end(db, media, livestream_id, session_id)


@router.post(
    "/{livestream_id:int}/whep/{session_id}/player",
    status_code=204,
    response_class=Response,
    responses={401: {"description": "No valid token"}, **not_found("session")},
)
async def whep_player_size(
    livestream_id: IdPath,
    session_id: str,
    body: PlayerSizeBody,
    _: IdentityDep,
    media: MediaDep,
) -> Response:
    """The viewer's player size (device pixels; ``height: null`` = full screen): in ``sfu``
    and ``janus`` mode with a simulcast publisher no layer taller than it needs is sent. ``404`` for an
    unknown session (the session id, from ``Location``, is the capability)."""
    if not media.set_viewer_size(livestream_id, session_id, body.width, body.height):
        raise HTTPException(404, "session not found")
    return Response(status_code=204)


@router.post(
    "/{livestream_id:int}/whep/{session_id}/playback",
    status_code=204,
    response_class=Response,
    responses={401: {"description": "No valid token"}, **not_found("session")},
)
async def whep_playback(
    livestream_id: IdPath,
    session_id: str,
    body: PlaybackBody,
    _: IdentityDep,
    media: MediaDep,
) -> Response:
    """How the viewer's player is doing, as its browser counts it (freezes, seconds frozen,
    frames decoded, since the session began; the watch page sends it every 5 s): the stats
    route's ``viewerLinks`` show it beside the server's view of the link. ``404`` for an unknown
    session (the session id, from ``Location``, is the capability)."""
    playback = Playback(body.freezes, body.freeze_seconds, body.frames_decoded)
    if not media.set_viewer_playback(livestream_id, session_id, playback):
        raise HTTPException(404, "session not found")
    return Response(status_code=204)


# No PATCH on a session: trickle ICE and ICE restarts are not supported, send the offer with its
# candidates. The router answers 405 with ``Allow: DELETE`` (RFC 9725 §4.3 allows it).


@router.options("/{livestream_id:int}/whip", include_in_schema=False)
@router.options("/{livestream_id:int}/whep", include_in_schema=False)
async def endpoint_options(livestream_id: IdPath, request: Request) -> Response:
    """WHIP/WHEP ``OPTIONS``: allowed methods and, as ``Link`` headers, the ICE servers."""
    response = Response(
        status_code=204, headers={"Allow": "POST, OPTIONS", "Accept-Post": "application/sdp"}
    )
    for link in ice_links_for(request):
        response.headers.append("Link", link)
    return response


@router.get("/{livestream_id:int}/stats", responses={**ADMIN_ONLY, **not_found("livestream")})
async def media_stats(
    livestream_id: IdPath, _: AdminDep, db: DbDep, media: MediaDep
) -> dict[str, Any]:
    """``{publisher: {bitrateKbps, fps, width, height, codec, packetsLost, layers?} | null,
    viewers, viewerRttMs: {p50, p95}, viewerLossPct: {p50, p95}, viewerLinks: [...],
    viewersPerLayer: {rid: n}}``."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
    await media.refresh(livestream_id)
    return media.stats(livestream_id)
