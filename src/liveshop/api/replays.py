"""The MP4 replay (made in the background after a show) and the show's clips.

``GET …/rendition`` says how far the MP4 is (the studio polls it) and, once done, where it is
and where each recorded part landed in it. Clips: one per product pin (made with the MP4) and the
seller's highlights (``POST …/clips {startSeconds, endSeconds, title}``), each at a stable URL
``/clips/{id}.mp4`` with a page ``/clips/{id}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import Field

from liveshop.api.deps import (
    ADMIN_ONLY,
    CONFLICT,
    AdminDep,
    DbDep,
    RenditionsDep,
    SettingsDep,
    not_found,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import Body
from liveshop.api.validation import MAX_ID, IdPath, line
from liveshop.protocol import Out
from liveshop.storage import clips, livestreams, products, recordings, renditions
from liveshop.storage.errors import Conflict
from liveshop.storage.models import Clip

router = APIRouter(prefix="/api", tags=["replays"], route_class=ApiRoute)
pages = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parents[1] / "static"
Seconds = Annotated[float, Field(ge=0, le=7 * 86400, allow_inf_nan=False, strict=True)]


class RenditionPart(Out):
    start_seconds: float  # where the part starts in the MP4
    duration_seconds: float
    show_offset_seconds: float  # where it started on the show's clock


class RenditionOut(Out):
    livestream_id: int
    state: str  # none | queued | running | done | failed
    progress: float
    url: str | None
    duration_seconds: float | None
    parts: list[RenditionPart]
    error: str | None


class ClipOut(Out):
    id: int
    livestream_id: int
    product_id: int | None
    kind: str  # pin | highlight
    title: str
    start_seconds: float
    end_seconds: float
    state: str  # queued | done | failed
    clip_start_seconds: float | None
    duration_seconds: float | None
    url: str | None  # the stable URL of the MP4 once cut
    page_url: str
    embed_url: str  # the same page for a shop's site to frame (LIVESHOP_EMBED_ORIGINS)


class ClipEnvelope(Out):
    clip: ClipOut


class ClipList(Out):
    clips: list[ClipOut]


class HighlightBody(Body):
    start_seconds: Seconds
    end_seconds: Seconds
    title: line(1, 200) | None = None  # type: ignore[valid-type]


def clip_out(clip: Clip) -> ClipOut:
    return ClipOut(
        id=clip.id,
        livestream_id=clip.livestream_id,
        product_id=clip.product_id,
        kind=clip.kind,
        title=clip.title,
        start_seconds=clip.start_seconds,
        end_seconds=clip.end_seconds,
        state=clip.state,
        clip_start_seconds=clip.clip_start_seconds,
        duration_seconds=clip.duration_seconds,
        url=f"/clips/{clip.id}.mp4" if clip.state == clips.DONE and clip.path else None,
        page_url=f"/clips/{clip.id}",
        embed_url=f"/embed/clips/{clip.id}",
    )


@router.get(
    "/livestreams/{livestream_id:int}/rendition",
    response_model=RenditionOut,
    responses=not_found("livestream"),
)
async def get_rendition(livestream_id: IdPath, db: DbDep) -> RenditionOut:
    """The MP4 replay's state (``none`` before it is asked for), progress 0..1, and once ``done``
    its URL and the recorded parts it joins (to map its time onto the show's clock)."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        row = await renditions.get(session, livestream_id)
    if row is None:
        return RenditionOut(
            livestream_id=livestream_id,
            state="none",
            progress=0.0,
            url=None,
            duration_seconds=None,
            parts=[],
            error=None,
        )
    done = row.state == renditions.DONE and row.path
    return RenditionOut(
        livestream_id=livestream_id,
        state=row.state,
        progress=row.progress,
        url=recordings.public_url(row.path) if done and row.path else None,
        duration_seconds=row.duration_seconds if done else None,
        parts=[
            RenditionPart(
                start_seconds=p["start"],
                duration_seconds=p["duration"],
                show_offset_seconds=p["offset"],
            )
            for p in renditions.parts_of(row)
        ]
        if done
        else [],
        error=row.error,
    )


@router.post(
    "/livestreams/{livestream_id:int}/rendition",
    status_code=202,
    response_model=RenditionOut,
    responses={**ADMIN_ONLY, **not_found("livestream"), **CONFLICT},
)
async def redo_rendition(
    livestream_id: IdPath, _: AdminDep, db: DbDep, worker: RenditionsDep
) -> RenditionOut:
    """Make the MP4 replay again (after a failure). 409 while the show is live or unrecorded."""
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        if stream.is_active:
            raise Conflict("the show is still live")
        if not await renditions.sources(session, livestream_id):
            raise Conflict("the show has no recording")
    await worker.request(livestream_id)
    return await get_rendition(livestream_id, db)


@router.get(
    "/livestreams/{livestream_id:int}/clips",
    response_model=ClipList,
    responses=not_found("livestream"),
)
async def list_clips(livestream_id: IdPath, db: DbDep) -> ClipList:
    """The show's clips (pins and highlights) in show order, cut or still queued."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        rows = await clips.for_show(session, livestream_id)
    return ClipList(clips=[clip_out(c) for c in rows])


@router.post(
    "/livestreams/{livestream_id:int}/clips",
    status_code=201,
    response_model=ClipEnvelope,
    responses={**ADMIN_ONLY, **not_found("livestream"), **CONFLICT},
)
async def cut_highlight(
    livestream_id: IdPath, body: HighlightBody, _: AdminDep, db: DbDep, worker: RenditionsDep
) -> ClipEnvelope:
    """Cut a highlight between ``startSeconds`` and ``endSeconds`` of the MP4 replay (in either
    order), at the keyframes nearest them (a second apart; never empty). Queued until the MP4
    exists; 409 while live."""
    start, end = sorted((body.start_seconds, body.end_seconds))
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
        if stream.is_active:
            raise Conflict("the show is still live")
        clip = await clips.add(
            session,
            livestream_id,
            kind=clips.HIGHLIGHT,
            start=start,
            end=end,
            title=body.title or "",
        )
        out = clip_out(clip)
    worker.poke()
    return ClipEnvelope(clip=out)


@router.get("/clips/{clip_id:int}", response_model=ClipEnvelope, responses=not_found("clip"))
async def get_clip(clip_id: IdPath, db: DbDep) -> ClipEnvelope:
    """One clip."""
    async with db.session() as session:
        return ClipEnvelope(clip=clip_out(await clips.get(session, clip_id)))


@router.delete(
    "/clips/{clip_id:int}", status_code=204, responses={**ADMIN_ONLY, **not_found("clip")}
)
async def delete_clip(clip_id: IdPath, _: AdminDep, db: DbDep, settings: SettingsDep) -> Response:
    """Delete a clip (its file goes with it)."""
    async with db.session() as session:
        clip = await clips.get(session, clip_id)
        path = clip.path
        await clips.delete_clip(session, clip)
    if path:
        (settings.effective_media_dir / path).unlink(missing_ok=True)
    return Response(status_code=204)


@router.get(
    "/products/{product_id:int}/clips", response_model=ClipList, responses=not_found("product")
)
async def product_clips(product_id: IdPath, db: DbDep) -> ClipList:
    """The product's finished clips from every show, newest first (to embed on its page)."""
    async with db.session() as session:
        await products.get(session, product_id, include_deleted=True)
        rows = await clips.for_product(session, product_id)
    return ClipList(clips=[clip_out(c) for c in rows])


# pages --------------------------------------------------------------------------------------


@pages.get("/clips/{clip_id:int}.mp4")
async def clip_video(clip_id: int, db: DbDep) -> Response:
    """The clip's MP4 (a redirect to its file under ``/media``, which serves ranges)."""
    async with db.session() as session:
        clip = await session.get(Clip, clip_id) if 0 < clip_id <= MAX_ID else None
    if clip is None or clip.state != clips.DONE or not clip.path:
        raise HTTPException(404, "no such clip (or not cut yet)")
    return RedirectResponse(recordings.public_url(clip.path), status_code=302)


@pages.get("/clips/{clip_id:int}")
async def clip_page(clip_id: int) -> FileResponse:
    """A page that plays one clip with its product (``static/clip.html``)."""
    return FileResponse(STATIC / "clip.html", headers={"Cache-Control": "no-cache"})


@pages.get("/embed/clips/{clip_id:int}")
async def clip_embed(clip_id: int) -> FileResponse:
    """The same page for a shop's product page to frame: the ``LIVESHOP_EMBED_ORIGINS`` may
    (``frame-ancestors``), and Buy hands the product to the host page's cart (shop-bridge.js)."""
    return FileResponse(STATIC / "clip.html", headers={"Cache-Control": "no-cache"})
