"""The MP4 rendition of each show's replay: requested when recordings change, claimed by one
background job at a time, its progress (and heartbeat) stored as it goes.

* :func:`request` queues a (new) rendition and bumps its ``generation``;
* :func:`claim` hands one queued job — or a ``running`` one whose heartbeat is older than
  ``stale_before`` (its process died) — to the caller, atomically (two processes never get the
  same generation);
* :func:`finish` / :func:`fail` store the outcome only for the claimed generation; a newer request
  made meanwhile keeps the row queued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage import livestreams, recordings
from liveshop.storage.models import Livestream, Recording, Rendition, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Job:
    """A claimed rendition: the show and the generation this job makes."""

    livestream_id: int
    generation: int


async def request(session: AsyncSession, livestream_id: int) -> None:
    """Queue a rendition of the show (again): its recordings changed or it just ended."""
    row = await session.get(Rendition, livestream_id, with_for_update=True)
    if row is None:
        session.add(
            Rendition(livestream_id=livestream_id, state=QUEUED, generation=1, progress=0.0)
        )
        return
    row.generation += 1
    row.state, row.progress, row.error, row.updated_at = QUEUED, 0.0, None, utcnow()


async def get(session: AsyncSession, livestream_id: int) -> Rendition | None:
    return await session.get(Rendition, livestream_id)


async def claim(session: AsyncSession, stale_before: datetime) -> Job | None:
    """The next job for this process, or None. The row is ``running`` with a fresh heartbeat."""
    candidates = await session.execute(
        select(Rendition.livestream_id, Rendition.generation, Rendition.state)
        .join(Livestream, Livestream.id == Rendition.livestream_id)
        .where(
            Livestream.is_active.is_(False),
            or_(
                Rendition.state == QUEUED,
                (Rendition.state == RUNNING) & (Rendition.updated_at < stale_before),
            ),
        )
        .order_by(Rendition.updated_at)
        .limit(5)
    )
    for livestream_id, generation, state in candidates.all():
        taken = await session.execute(
            update(Rendition)
            .where(
                Rendition.livestream_id == livestream_id,
                Rendition.generation == generation,
                Rendition.state == state,
            )
            .values(state=RUNNING, progress=0.0, updated_at=utcnow())
        )
        if getattr(taken, "rowcount", 0) == 1:
            return Job(livestream_id, generation)
    return None


async def heartbeat(session: AsyncSession, job: Job, progress: float) -> bool:
    """Store the job's progress (0..1) and that it is alive; False when the job is no longer
    this one (a newer generation was requested, or the show is gone): stop working on it."""
    result = await session.execute(
        update(Rendition)
        .where(
            Rendition.livestream_id == job.livestream_id,
            Rendition.generation == job.generation,
            Rendition.state == RUNNING,
        )
        .values(progress=round(min(max(progress, 0.0), 1.0), 4), updated_at=utcnow())
    )
    return getattr(result, "rowcount", 0) == 1


async def release(session: AsyncSession, job: Job) -> None:
    """Give the job back (this process is stopping): queued again for whoever starts next."""
    await session.execute(
        update(Rendition)
        .where(
            Rendition.livestream_id == job.livestream_id,
            Rendition.generation == job.generation,
            Rendition.state == RUNNING,
        )
        .values(state=QUEUED, progress=0.0, updated_at=utcnow())
    )


async def finish(
    session: AsyncSession, job: Job, *, path: str, duration: float, parts: list[dict[str, Any]]
) -> bool:
    """Store the finished MP4 for the claimed generation; False when a newer one was requested
    meanwhile (or the show is gone), and then nothing changed."""
    result = await session.execute(
        update(Rendition)
        .where(
            Rendition.livestream_id == job.livestream_id,
            Rendition.generation == job.generation,
            Rendition.state == RUNNING,
        )
        .values(
            state=DONE,
            progress=1.0,
            path=path,
            duration_seconds=round(duration, 3),
            parts=json.dumps(parts),
            error=None,
            updated_at=utcnow(),
        )
    )
    return getattr(result, "rowcount", 0) == 1


async def fail(session: AsyncSession, job: Job, error: str) -> None:
    await session.execute(
        update(Rendition)
        .where(
            Rendition.livestream_id == job.livestream_id,
            Rendition.generation == job.generation,
            Rendition.state == RUNNING,
        )
        .values(state=FAILED, error=error[:300], updated_at=utcnow())
    )


async def missing(session: AsyncSession) -> list[int]:
    """Ended, recorded shows that have no rendition row (recorded before renditions existed)."""
    result = await session.execute(
        select(Livestream.id)
        .where(
            Livestream.is_active.is_(False),
            Livestream.is_recorded.is_(True),
            ~select(Rendition.livestream_id)
            .where(Rendition.livestream_id == Livestream.id)
            .exists(),
        )
        .order_by(Livestream.id)
    )
    return list(result.scalars())


def parts_of(row: Rendition) -> list[dict[str, Any]]:
    value = json.loads(row.parts or "[]")
    return value if isinstance(value, list) else []


async def sources(session: AsyncSession, livestream_id: int) -> list[Recording]:
    """The recorded files the rendition joins, in show order: the newest one-shot upload alone
    when there is one (it replaces the rest), else every studio part and server segment by
    where it starts on the show's clock."""
    await livestreams.get(session, livestream_id)
    result = await session.execute(
        select(Recording).where(Recording.livestream_id == livestream_id).order_by(Recording.id)
    )
    rows = list(result.scalars())
    uploads = [r for r in rows if r.source == recordings.UPLOAD]
    if uploads:
        return [uploads[-1]]
    return sorted(
        rows,
        key=lambda r: (r.start_offset_seconds is None, r.start_offset_seconds or 0.0, r.id),
    )
