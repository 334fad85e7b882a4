"""A show's recorded files and the one rule that makes them its replay.

**Attaching a recording** (:func:`attach`, used by every path: the studio's upload and the
server's own recording segments) stores the file's row, then derives the show's replay fields
from *all* its rows, so the order in which files arrive does not matter:

* ``videoUrl`` — the newest one-shot upload when there is one (it replaces the show's video),
  otherwise the first studio part or server segment (the MP4 rendition, ``replay/renditions.py``,
  joins every part and segment in order into one file);
* ``durationSeconds`` — that upload's duration, or the sum of the parts' and segments' durations;
* ``thumbnailUrl`` — set from the given thumbnail only when the show has none (a seller's choice,
  ``PUT …/thumbnail`` or ``PATCH``, is never replaced);
* ``isRecorded`` — true.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage import livestreams
from liveshop.storage.models import Clip, Livestream, Recording, Rendition

# a one-shot upload (replaces the rest), a part of the studio's recording, a server segment
UPLOAD, PART, SERVER = "upload", "part", "server"


def public_url(path: str) -> str:
    """The URL under ``/media/`` of a path relative to the media directory."""
    return "/media/" + path.lstrip("/")


async def attach(
    session: AsyncSession,
    livestream_id: int,
    *,
    path: str,
    source: str,
    size_bytes: int,
    duration_seconds: float,
    start_offset_seconds: float | None,
    thumbnail_path: str | None = None,
) -> Livestream:
    """Store one recorded file of the show (``path`` relative to the media directory) and apply
    the replay rule above. Raises ``NotFound`` for an unknown show. Returns the updated show."""
    stream = await livestreams.get(session, livestream_id)
    session.add(
        Recording(
            livestream_id=livestream_id,
            path=path,
            source=source,
            size_bytes=size_bytes,
            duration_seconds=duration_seconds,
            start_offset_seconds=start_offset_seconds,
        )
    )
    await session.flush()
    rows = await for_show(session, livestream_id)
    uploads = [r for r in rows if r.source == UPLOAD]
    chosen = [uploads[-1]] if uploads else [r for r in rows if r.source != UPLOAD]
    stream.video_url = public_url(chosen[0].path)
    stream.duration_seconds = round(sum(r.duration_seconds or 0.0 for r in chosen), 3)
    if thumbnail_path is not None and not stream.thumbnail_url:
        stream.thumbnail_url = public_url(thumbnail_path)
    stream.is_recorded = True
    return await livestreams.touch(session, livestream_id)  # a live field changed: new revision


async def for_show(session: AsyncSession, livestream_id: int) -> list[Recording]:
    """The show's recorded files in the order they were stored."""
    result = await session.execute(
        select(Recording).where(Recording.livestream_id == livestream_id).order_by(Recording.id)
    )
    return list(result.scalars())


async def ended_before(session: AsyncSession, cutoff: datetime) -> list[int]:
    """Ids of shows that ended before ``cutoff``."""
    result = await session.execute(
        select(Livestream.id).where(Livestream.is_active.is_(False), Livestream.end_time < cutoff)
    )
    return list(result.scalars())


async def forget(session: AsyncSession, ids: list[int]) -> None:
    """Drop the recordings of shows ``ids`` (their files are gone): no rows (their MP4 renditions
    and clips neither), no replay fields."""
    await session.execute(delete(Recording).where(Recording.livestream_id.in_(ids)))
    await session.execute(delete(Rendition).where(Rendition.livestream_id.in_(ids)))
    await session.execute(delete(Clip).where(Clip.livestream_id.in_(ids)))
    for stream in (
        await session.execute(select(Livestream).where(Livestream.id.in_(ids)))
    ).scalars():
        stream.video_url = None
        stream.thumbnail_url = None
        stream.is_recorded = False
        stream.duration_seconds = None
