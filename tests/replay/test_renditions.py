"""The background worker that makes MP4 replays: owned by whoever starts it, found work in the
database, gives a job back when it stops, and the next worker redoes it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from liveshop.replay.rendition import Part, render_mp4
from liveshop.replay.renditions import RenditionWorker
from liveshop.storage import livestreams, recordings, renditions, users
from liveshop.storage.engine import Database
from tests.replay.samples import make_show_webm
from tests.waiting import until


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.close()


async def ended_recorded_show(db: Database, media_dir: Path) -> int:
    """An ended show with one 3 s recording on disk."""
    (media_dir / "livestreams").mkdir(parents=True, exist_ok=True)
    make_show_webm(media_dir / "livestreams" / "part.webm", 3.0)
    async with db.session() as session:
        user = await users.create_user(
            session, email="s@example.com", name="S", role="admin", password_hash="x"
        )
        stream = await livestreams.create(
            session, title="T", description="", quality="480p", created_by=user.id
        )
        await recordings.attach(
            session,
            stream.id,
            path="livestreams/part.webm",
            source=recordings.PART,
            size_bytes=1,
            duration_seconds=3.0,
            start_offset_seconds=0.0,
        )
        await livestreams.stop(session, stream)
        return stream.id


async def state_of(db: Database, show: int) -> str:
    async with db.session() as session:
        row = await renditions.get(session, show)
        return row.state if row else "none"


async def test_a_stopping_worker_gives_its_job_back_and_the_next_one_finishes_it(
    db: Database, tmp_path: Path
) -> None:
    """Closed mid-rendition, the worker leaves no file and a queued job; a new worker makes it."""
    show = await ended_recorded_show(db, tmp_path)
    midway = threading.Event()

    def held(sources: list[Path], target: Path, progress: Callable[[float], None]) -> list[Part]:
        def gate(fraction: float) -> None:
            midway.set()
            while True:  # until the worker stops: its progress callback raises then
                progress(fraction)
                threading.Event().wait(0.02)

        return render_mp4(sources, target, gate)

    first = RenditionWorker(db, tmp_path, render=held)
    await first.start()
    await first.request(show)
    await until(midway.is_set, timeout=30, message="the rendition to be under way")
    assert await state_of(db, show) == "running"
    await first.close()
    assert await state_of(db, show) == "queued"
    assert not list((tmp_path / "livestreams" / str(show)).glob("replay-*"))

    second = RenditionWorker(db, tmp_path)
    await second.start()
    try:

        async def done() -> bool:
            return await state_of(db, show) == "done"

        await until(done, timeout=60, interval=0.1, message="the rendition")
        assert list((tmp_path / "livestreams" / str(show)).glob("replay-*.mp4"))
    finally:
        await second.close()


async def test_start_queues_recorded_shows_without_a_rendition(
    db: Database, tmp_path: Path
) -> None:
    """Shows recorded before renditions existed are queued when a worker starts."""
    show = await ended_recorded_show(db, tmp_path)
    assert await state_of(db, show) == "none"
    worker = RenditionWorker(db, tmp_path)
    async with db.session() as session:
        assert await renditions.missing(session) == [show]
    await worker.start()
    await worker.close()
    async with db.session() as session:
        assert await renditions.missing(session) == []


async def test_a_newer_request_supersedes_the_job_under_way(db: Database, tmp_path: Path) -> None:
    """A request made mid-rendition (a recording arrived) stops that job; the newer one is made."""
    show = await ended_recorded_show(db, tmp_path)
    targets: list[str] = []
    midway = threading.Event()

    def first_held(
        sources: list[Path], target: Path, progress: Callable[[float], None]
    ) -> list[Part]:
        targets.append(target.name)
        if len(targets) > 1:
            return render_mp4(sources, target, progress)

        def gate(fraction: float) -> None:
            midway.set()
            while True:  # until the worker gives up on this generation
                progress(fraction)
                threading.Event().wait(0.02)

        return render_mp4(sources, target, gate)

    worker = RenditionWorker(db, tmp_path, render=first_held)
    await worker.start()  # queues the show: it never had a rendition
    try:
        await until(midway.is_set, timeout=30, message="the first rendition to be under way")
        await worker.request(show)

        async def done() -> bool:
            return await state_of(db, show) == "done"

        await until(done, timeout=60, interval=0.1, message="the newer rendition")
    finally:
        await worker.close()
    assert targets == ["replay-1.mp4", "replay-2.mp4"]
    made = sorted(p.name for p in (tmp_path / "livestreams" / str(show)).glob("replay-*"))
    assert made == ["replay-2.mp4"]
