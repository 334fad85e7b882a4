"""The background job that makes every ended show's MP4 replay and its clips.

Owned by the app's lifespan (``app.state.renditions``). One job at a time per process: the encoder
runs in a child process (PyAV, :mod:`liveshop.replay.rendition`) watched from a worker thread, so
the event loop never waits for it nor competes with it for the GIL; clips (stream copy, fast) are
cut on a thread.
Work is found in the database, never only in memory:

* :meth:`RenditionWorker.request` queues a show (it ended, or a recording was attached after it
  ended) and wakes the loop; other processes find it on their next scan;
* a job stores its progress every second — that is also its heartbeat. A process stopping gives
  its job back (queued); a process that died leaves a ``running`` row whose heartbeat stops, and
  after ``stale_after`` seconds any process (the restarted one included) redoes it;
* at start, ended recorded shows that never had a rendition are queued;
* after the MP4, one clip per product pin (the pin's time on screen, mapped onto the MP4) is
  queued, and every queued clip of the show (pins and the seller's highlights) is cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from liveshop.domain.replay_time import Interval, PartSpan, show_to_video
from liveshop.replay.files import show_dir
from liveshop.replay.rendition import Cancelled, Part, cut_clip, render_in_subprocess
from liveshop.storage import clips, livestreams, renditions
from liveshop.storage.engine import Database
from liveshop.storage.errors import NotFound
from liveshop.storage.models import utcnow

log = logging.getLogger(__name__)

MIN_CLIP_SECONDS = 1.0
Render = Callable[[list[Path], Path, Callable[[float], None]], list[Part]]


class RenditionWorker:
    """Makes MP4 renditions and clips in the background (see the module doc)."""

    def __init__(
        self,
        db: Database,
        media_dir: Path,
        *,
        enabled: bool = True,
        stale_after: float = 30.0,
        rescan_every: float = 10.0,
        render: Render = render_in_subprocess,
    ) -> None:
        """``render`` makes the MP4, called on a worker thread (by default it runs the encoder in a
        child process: :func:`render_in_subprocess`; tests hold it midway)."""
        self.db, self.media_dir, self.enabled = db, media_dir, enabled
        self.render = render
        self.stale_after, self.rescan_every = stale_after, rescan_every
        self._wake = asyncio.Event()
        self._cancel = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._progress = 0.0

    async def start(self) -> None:
        """Queue the recorded shows that never had a rendition; start the loop (when enabled)."""
        if not self.enabled:
            return
        async with self.db.session() as session:
            for livestream_id in await renditions.missing(session):
                await renditions.request(session, livestream_id)
        self._task = asyncio.create_task(self._loop(), name="renditions")

    async def close(self) -> None:
        """Stop: a job in progress is cancelled and given back (queued) for the next start."""
        self._cancel.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def request(self, livestream_id: int) -> None:
        """(Re)make the show's MP4 and clips. Never raises (a failed request is logged)."""
        try:
            async with self.db.session() as session:
                await renditions.request(session, livestream_id)
        except Exception:
            log.exception("could not queue the rendition of show %s", livestream_id)
            return
        self.poke()

    async def request_if_recorded(self, livestream_id: int) -> None:
        """:meth:`request` for a show that has recorded files (a show just ended). Never raises."""
        try:
            async with self.db.session() as session:
                has = bool(await renditions.sources(session, livestream_id))
        except Exception:
            log.exception("could not look at the recordings of show %s", livestream_id)
            return
        if has:
            await self.request(livestream_id)

    def poke(self) -> None:
        """Look for work now (a clip or a rendition was queued)."""
        self._wake.set()

    # the loop ------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                worked = await self._one()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rendition loop failed; retrying")
                worked = False
            if worked:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.rescan_every)

    async def _one(self) -> bool:
        """Do one piece of work; False when there was none."""
        stale = utcnow() - timedelta(seconds=self.stale_after)
        async with self.db.session() as session:
            job = await renditions.claim(session, stale)
        if job is not None:
            await self._render(job)
            return True
        async with self.db.session() as session:
            shows = await clips.shows_with_queued(session)
        for livestream_id in shows:
            if await self._cut_clips(livestream_id):
                return True
        return False

    async def _render(self, job: renditions.Job) -> None:
        show = job.livestream_id
        try:
            async with self.db.session() as session:
                stream = await livestreams.get(session, show)
                rows = await renditions.sources(session, show)
                pins = await livestreams.pin_history(session, show)
                start_time, end_time = stream.start_time, stream.end_time
        except NotFound:
            return  # deleted meanwhile (its row went with it)
        if not rows:
            async with self.db.session() as session:
                await renditions.fail(session, job, "the show has no recording")
            return
        paths = [self.media_dir / r.path for r in rows]
        target = show_dir(self.media_dir, show) / f"replay-{job.generation}.mp4"
        self._progress = 0.0
        self._cancel.clear()

        def progress(fraction: float) -> None:
            if self._cancel.is_set():
                raise Cancelled
            self._progress = fraction

        work = asyncio.ensure_future(asyncio.to_thread(self.render, paths, target, progress))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=1.0)
                async with self.db.session() as session:
                    if not await renditions.heartbeat(session, job, self._progress):
                        self._cancel.set()  # superseded: the next job starts from scratch
            placed = work.result()
        except asyncio.CancelledError:
            self._cancel.set()
            with contextlib.suppress(BaseException):
                await asyncio.shield(work)  # the thread stops at its next progress call
            async with self.db.session() as session:
                await renditions.release(session, job)
            raise
        except Cancelled:
            target.unlink(missing_ok=True)
            return  # superseded by a newer request (queued) or the show was deleted
        except Exception as exc:  # a file PyAV chokes on must not be retried forever
            log.warning("show %s: the MP4 rendition failed: %s", show, exc)
            async with self.db.session() as session:
                await renditions.fail(session, job, str(exc))
            return
        spans: list[PartSpan] = []
        for p, r in zip(placed, rows, strict=True):
            # a part whose place on the show's clock is unknown follows the one before it
            after = spans[-1].offset + spans[-1].duration if spans else 0.0
            offset = r.start_offset_seconds if r.start_offset_seconds is not None else after
            spans.append(PartSpan(start=p.start, duration=p.duration, offset=offset))
        duration = sum(p.duration for p in placed)
        intervals: list[tuple[int, float, float]] = []
        show_end = (end_time - start_time).total_seconds() if end_time else None
        for pin in pins:
            until = pin.unpinned_at or end_time
            shown = Interval(
                (pin.pinned_at - start_time).total_seconds(),
                (until - start_time).total_seconds() if until else (show_end or 0.0),
            )
            mapped = show_to_video(spans, shown)
            if mapped is not None and mapped.end - mapped.start >= MIN_CLIP_SECONDS:
                intervals.append((pin.product_id, mapped.start, mapped.end))
        async with self.db.session() as session:
            stored = await renditions.finish(
                session,
                job,
                path=target.relative_to(self.media_dir).as_posix(),
                duration=duration,
                parts=[asdict(s) for s in spans],
            )
            if stored:
                await clips.replace_pin_clips(session, show, intervals)
        if not stored:
            target.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                target.parent.rmdir()  # only when empty: the show was deleted meanwhile
            return
        for old in target.parent.glob("replay-*.mp4"):
            if old != target:
                old.unlink(missing_ok=True)
        await self._cut_clips(show)

    async def _cut_clips(self, livestream_id: int) -> bool:
        """Cut the show's queued clips from its finished MP4; False when it has none yet."""
        async with self.db.session() as session:
            row = await renditions.get(session, livestream_id)
            if row is None or row.state != renditions.DONE or not row.path:
                return False
            queued = [
                (c.id, c.start_seconds, c.end_seconds)
                for c in await clips.queued(session, livestream_id)
            ]
        source = self.media_dir / row.path
        for clip_id, start, end in queued:
            target = show_dir(self.media_dir, livestream_id) / "clips" / f"{clip_id}.mp4"
            outcome: dict[str, Any]
            try:
                cut_start, length = await asyncio.to_thread(cut_clip, source, target, start, end)
                outcome = {
                    "state": clips.DONE,
                    "path": target.relative_to(self.media_dir).as_posix(),
                    "clip_start_seconds": cut_start,
                    "duration_seconds": length,
                }
            except Exception as exc:
                log.warning("clip %s of show %s failed: %s", clip_id, livestream_id, exc)
                outcome = {"state": clips.FAILED}
            async with self.db.session() as session:
                try:
                    clip = await clips.get(session, clip_id)
                except NotFound:
                    target.unlink(missing_ok=True)
                    continue
                for key, value in outcome.items():
                    setattr(clip, key, value)
        return bool(queued)
