"""The studio's own recording, uploaded while live, and the show's thumbnail.

``PUT …/recording/chunks/{seq}`` stores one chunk (idempotent by ``seq``, any order);
``POST …/recording/complete {lastSeq}`` checks nothing is missing (``409 {missing}``), joins the
chunks in order and remuxes them (stream copy) into a seekable file with a duration: one *part*
of the show's recording. A studio reopened mid-show completes what the earlier tab uploaded, then
records the next part: the replay joins the parts in order.
``POST …/upload`` is the seed's one-shot multipart upload. Only the show's seller may upload.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import Field

from liveshop.announcer import Announcer
from liveshop.api.deps import (
    ADMIN_ONLY,
    AdminDep,
    AnnouncerDep,
    DbDep,
    RenditionsDep,
    SettingsDep,
    not_found,
)
from liveshop.api.routing import ApiRoute
from liveshop.api.schemas import Body, LivestreamEnvelope
from liveshop.api.validation import IdPath, integer
from liveshop.domain.identity import Identity
from liveshop.protocol import Out
from liveshop.replay.files import EBML_MAGIC, MAX_SEQ, ChunkStore, TooLarge, show_dir
from liveshop.replay.remux import NotAnImage, NotMedia, image_to_jpeg, remux, thumbnail_from_video
from liveshop.replay.renditions import RenditionWorker
from liveshop.storage import livestreams, recordings
from liveshop.storage.engine import Database
from liveshop.storage.models import Livestream

router = APIRouter(prefix="/api/livestreams", tags=["recordings"], route_class=ApiRoute)

MAX_CHUNK_BYTES = 64 * 1024 * 1024
MAX_THUMBNAIL_BYTES = 5 * 1024 * 1024
WEBM_TYPES = {"video/webm", "audio/webm", "video/x-matroska", "application/octet-stream"}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
FORM_FIELDS = 5  # text fields an upload form may have besides its file
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **ADMIN_ONLY,
    **not_found("livestream"),
    413: {"description": "Over the size limit"},
    415: {"description": "Not WebM/Matroska (or not an image)"},
    507: {"description": "The server's disk is full; chunks received so far are kept"},
}
Seq = Annotated[int, PathParam(ge=0, le=MAX_SEQ)]


class CompleteBody(Body):
    last_seq: integer(0, MAX_SEQ)  # type: ignore[valid-type]
    # where the recording's time 0 falls on the show's clock (seconds after startTime)
    start_offset_seconds: Annotated[float, Field(ge=0, le=7 * 86400, strict=True)] | None = None


class ChunkOut(Out):
    seq: int
    size: int
    received_bytes: int


def _copy_into(fd: int, source: Any) -> None:
    with open(fd, "wb") as out:
        shutil.copyfileobj(source, out)


async def _own_show(db: Database, livestream_id: int, identity: Identity) -> Livestream:
    async with db.session() as session:
        stream = await livestreams.get(session, livestream_id)
    if stream.created_by != identity.id:
        raise HTTPException(403, "only this show's seller can upload its recording")
    return stream


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _invalid_body(field: str, message: str, kind: str) -> HTTPException:
    """A 422 shaped like every other (``detail``: a list of ``{loc, field, msg, type}``)."""
    loc = ["body"] if field == "body" else ["body", field]
    return HTTPException(422, [{"loc": loc, "field": field, "msg": message, "type": kind}])


def _disk_error(exc: OSError) -> HTTPException:
    if exc.errno == errno.ENOSPC:
        return HTTPException(507, "the server's disk is full; the chunks received so far are kept")
    return HTTPException(500, "could not store the upload")


async def _finish(
    db: Database,
    announcer: Announcer,
    renditions: RenditionWorker,
    media_dir: Path,
    stream: Livestream,
    source: Path,
    start_offset: float | None = None,
    *,
    kind: str = recordings.UPLOAD,
) -> LivestreamEnvelope:
    """Remux ``source`` into the show's seekable recording, thumbnail it, attach it to the show
    (:func:`liveshop.storage.recordings.attach`), broadcast the change, and (re)queue the MP4
    replay of a show that has ended. A studio ``PART`` is kept beside the earlier parts
    (``studio.webm``, ``studio-2.webm`` …); a one-shot ``UPLOAD`` replaces the show's video."""
    directory = show_dir(media_dir, stream.id)
    stem = directory / "studio"
    if kind == recordings.PART:
        async with db.session() as session:
            earlier = [r for r in await recordings.for_show(session, stream.id) if r.source == kind]
        if earlier:
            stem = directory / f"studio-{len(earlier) + 1}"
    try:
        target, duration = await asyncio.to_thread(remux, source, stem)
    except NotMedia as exc:
        raise HTTPException(415, str(exc)) from None
    thumbnail = directory / "thumbnail.jpg"
    if not thumbnail.exists():
        await asyncio.to_thread(thumbnail_from_video, target, thumbnail, min(3.0, duration / 2))
    async with db.session() as session:
        await recordings.attach(
            session,
            stream.id,
            path=target.relative_to(media_dir).as_posix(),
            source=kind,
            size_bytes=target.stat().st_size,
            duration_seconds=duration,
            start_offset_seconds=start_offset,
            thumbnail_path=thumbnail.relative_to(media_dir).as_posix()
            if thumbnail.exists()
            else None,
        )
        ended = not (await livestreams.get(session, stream.id)).is_active
    out = LivestreamEnvelope(livestream=await announcer.show_changed(stream.id))
    if ended:
        await renditions.request(stream.id)
    return out


@router.put(
    "/{livestream_id:int}/recording/chunks/{seq:int}",
    response_model=ChunkOut,
    response_description="The chunk replaced the one stored with this seq",
    responses={**UPLOAD_ERRORS, 201: {"model": ChunkOut, "description": "A new chunk"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(WEBM_TYPES)
            },
        }
    },
)
async def put_chunk(
    livestream_id: IdPath,
    seq: Seq,
    request: Request,
    identity: AdminDep,
    db: DbDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Store chunk ``seq`` (201 new, 200 replaced). Chunk 0 must start a WebM/Matroska file."""
    await _own_show(db, livestream_id, identity)
    if _content_type(request) not in WEBM_TYPES:
        raise HTTPException(415, "send the chunk as video/webm")
    store = ChunkStore(settings.effective_media_dir, livestream_id)
    sizes = store.sizes()
    stored = sum(size for s, size in sizes.items() if s != seq)
    limit = min(MAX_CHUNK_BYTES, settings.max_recording_bytes - stored)
    if limit <= 0:
        raise HTTPException(413, "the recording is over LIVESHOP_MAX_RECORDING_BYTES")
    try:
        size, new = await store.put(seq, request.stream(), limit=limit)
    except TooLarge:
        raise HTTPException(413, "the recording is over its size limit") from None
    except OSError as exc:
        raise _disk_error(exc) from None
    if seq == 0 and store.first_bytes(0) != EBML_MAGIC:
        store.path(0).unlink(missing_ok=True)
        raise HTTPException(415, "not a WebM/Matroska recording")
    body = ChunkOut(seq=seq, size=size, received_bytes=stored + size)
    return JSONResponse(body.model_dump(by_alias=True), status_code=201 if new else 200)


class ChunkList(Out):
    seqs: list[int]
    received_bytes: int


@router.get(
    "/{livestream_id:int}/recording/chunks",
    response_model=ChunkList,
    responses={**ADMIN_ONLY, **not_found("livestream")},
)
async def list_chunks(
    livestream_id: IdPath, identity: AdminDep, db: DbDep, settings: SettingsDep
) -> ChunkList:
    """The chunks the server holds for an upload not completed yet (to resume after a crash)."""
    await _own_show(db, livestream_id, identity)
    sizes = ChunkStore(settings.effective_media_dir, livestream_id).sizes()
    return ChunkList(seqs=sorted(sizes), received_bytes=sum(sizes.values()))


@router.post(
    "/{livestream_id:int}/recording/complete",
    response_model=LivestreamEnvelope,
    responses={**UPLOAD_ERRORS, 409: {"description": "Chunks are missing: {detail, missing}"}},
)
async def complete_recording(
    livestream_id: IdPath,
    body: CompleteBody,
    identity: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
    settings: SettingsDep,
    renditions: RenditionsDep,
) -> Any:
    """Assemble chunks 0..lastSeq in order and make the show's replay. Missing chunks answer
    ``409 {detail, missing: [...]}`` and nothing is assembled."""
    stream = await _own_show(db, livestream_id, identity)
    media_dir = settings.effective_media_dir
    store = ChunkStore(media_dir, livestream_id)
    missing = store.missing(body.last_seq)
    if missing:
        return JSONResponse({"detail": "chunks are missing", "missing": missing}, status_code=409)
    if store.first_bytes(0) != EBML_MAGIC:
        raise HTTPException(415, "not a WebM/Matroska recording")
    assembled = show_dir(media_dir, livestream_id) / "upload.webm"
    try:
        await asyncio.to_thread(store.assemble, body.last_seq, assembled)
        result = await _finish(
            db,
            announcer,
            renditions,
            media_dir,
            stream,
            assembled,
            body.start_offset_seconds,
            kind=recordings.PART,
        )
    except OSError as exc:
        raise _disk_error(exc) from None
    finally:
        assembled.unlink(missing_ok=True)
    store.clear()
    return result


@router.post(
    "/{livestream_id:int}/upload",
    response_model=LivestreamEnvelope,
    responses={
        **UPLOAD_ERRORS,
        400: {"description": "Not a readable multipart form (or more than 5 fields, 1 file)"},
        422: {"description": "No file in the field `video`"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"video": {"type": "string", "format": "binary"}},
                        "required": ["video"],
                        # other text fields are ignored, up to the form's limit of 5
                        "additionalProperties": {"type": "string"},
                        "maxProperties": 1 + FORM_FIELDS,
                    }
                }
            },
        }
    },
)
async def upload_recording(
    livestream_id: IdPath,
    request: Request,
    identity: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
    settings: SettingsDep,
    renditions: RenditionsDep,
) -> LivestreamEnvelope:
    """The seed's one-shot upload: multipart form, field ``video``."""
    stream = await _own_show(db, livestream_id, identity)
    limit = settings.max_recording_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise HTTPException(413, "the recording is over LIVESHOP_MAX_RECORDING_BYTES")
    if _content_type(request) != "multipart/form-data":
        raise HTTPException(415, "send a multipart/form-data body with a 'video' file field")
    media_dir = settings.effective_media_dir
    directory = show_dir(media_dir, livestream_id)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        async with request.form(max_files=1, max_fields=FORM_FIELDS) as form:
            video = form.get("video")
            if video is None or isinstance(video, str):
                raise _invalid_body("video", "a file is required", "missing")
            if video.size is not None and video.size > limit:
                raise HTTPException(413, "the recording is over LIVESHOP_MAX_RECORDING_BYTES")
            head = await video.read(4)
            if head != EBML_MAGIC:
                raise HTTPException(415, "not a WebM/Matroska recording")
            await video.seek(0)
            fd, name = tempfile.mkstemp(dir=directory, suffix=".upload")
            tmp = Path(name)
            try:
                await asyncio.to_thread(_copy_into, fd, video.file)
                return await _finish(db, announcer, renditions, media_dir, stream, tmp)
            finally:
                tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise _disk_error(exc) from None


@router.put(
    "/{livestream_id:int}/thumbnail",
    response_model=LivestreamEnvelope,
    responses={**UPLOAD_ERRORS, 422: {"description": "Not a decodable image"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(IMAGE_TYPES)
            },
        }
    },
)
async def put_thumbnail(
    livestream_id: IdPath,
    request: Request,
    identity: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
    settings: SettingsDep,
) -> LivestreamEnvelope:
    """Set the show's thumbnail: JPEG, PNG or WebP up to 5 MB, decoded and re-encoded as JPEG."""
    await _own_show(db, livestream_id, identity)
    if _content_type(request) not in IMAGE_TYPES:
        raise HTTPException(415, "send image/jpeg, image/png or image/webp")
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > MAX_THUMBNAIL_BYTES:
            raise HTTPException(413, "thumbnails are limited to 5 MB")
    media_dir = settings.effective_media_dir
    target = show_dir(media_dir, livestream_id) / "thumbnail.jpg"
    try:
        await asyncio.to_thread(image_to_jpeg, bytes(data), target)
    except NotAnImage as exc:
        raise _invalid_body("body", str(exc), "not_an_image") from None
    except OSError as exc:
        raise _disk_error(exc) from None
    async with db.session() as session:
        row = await livestreams.get(session, livestream_id)
        row.thumbnail_url = recordings.public_url(target.relative_to(media_dir).as_posix())
        await livestreams.touch(session, livestream_id)
    return LivestreamEnvelope(livestream=await announcer.show_changed(livestream_id))


class RecordingOut(Out):
    url: str
    source: str
    duration_seconds: float | None
    start_offset_seconds: float | None
    size_bytes: int


class RecordingList(Out):
    recordings: list[RecordingOut]


@router.get(
    "/{livestream_id:int}/recordings",
    response_model=RecordingList,
    responses=not_found("livestream"),
)
async def list_recordings(livestream_id: IdPath, db: DbDep) -> RecordingList:
    """The show's recorded files in the order they were stored."""
    async with db.session() as session:
        await livestreams.get(session, livestream_id)
        rows = await recordings.for_show(session, livestream_id)
        return RecordingList(
            recordings=[
                RecordingOut(
                    url=recordings.public_url(r.path),
                    source=r.source,
                    duration_seconds=r.duration_seconds,
                    start_offset_seconds=r.start_offset_seconds,
                    size_bytes=r.size_bytes,
                )
                for r in rows
            ]
        )
