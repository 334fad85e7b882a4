"""What the app does when the media backend reports something (the backend knows nothing of us).

* a publisher connected → shoppers get ``webrtc_broadcast_start`` (their players attach now);
* a publisher left → shoppers get ``webrtc_broadcast_stop``;
* the recording paused (disk full) or resumed → the seller gets ``recording_status``;
* viewers lost their media server (a Janus instance died) → each one's socket gets
  ``webrtc_reconnect``;
* the layer rule paused / resumed one viewer's video (``sfu``) → ``webrtc_video_state`` to the
  socket watching through that WHEP session (its page says "audio only" meanwhile);
* a recording segment is ready → attached to the show by the one rule of
  :func:`liveshop.storage.recordings.attach`, then ``stream_update`` is broadcast; when the show
  has ended, its MP4 rendition is (re)queued. While the database is unavailable (restart,
  failover) the file stays where it is and the attachment is retried with backoff until the
  database is back.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from liveshop import protocol
from liveshop.announcer import Announcer
from liveshop.media.base import MediaEvent
from liveshop.replay.renditions import RenditionWorker
from liveshop.storage import livestreams, recordings
from liveshop.storage.engine import Database
from liveshop.storage.errors import Unavailable
from liveshop.storage.models import utcnow

log = logging.getLogger(__name__)

RETRY_MIN, RETRY_MAX = 0.5, 10.0  # seconds between attempts to attach a recording


class MediaEvents:
    """The ``on_event`` callback given to the media backend. Never raises."""

    def __init__(
        self,
        db: Database,
        announcer: Announcer,
        media_dir: Path,
        renditions: RenditionWorker | None = None,
    ) -> None:
        self.db, self.announcer, self.media_dir = db, announcer, media_dir.resolve()
        self.renditions = renditions
        self._retries: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Recordings waiting for the database to be attached."""
        return len(self._retries)

    async def __call__(self, event: MediaEvent) -> None:
        try:
            show = event.livestream_id
            if event.kind == "publisher_connected":
                await self.announcer.to_show(show, protocol.broadcast_start(show, "server"))
            elif event.kind == "publisher_left":
                reason = event.data.get("reason")
                await self.announcer.to_show(
                    show, protocol.broadcast_stop(show, str(reason) if reason else None)
                )
            elif event.kind == "recording_ready":
                await self._recording_ready(show, event.data)
            elif event.kind == "recording_paused":
                reason = str(event.data.get("reason", "write_failed"))
                await self.announcer.to_show(
                    show, protocol.recording_status(show, "paused", reason)
                )
            elif event.kind == "recording_resumed":
                await self.announcer.to_show(show, protocol.recording_status(show, "recording"))
            elif event.kind == "viewer_video":
                data = event.data
                await self.announcer.to_show(
                    show,
                    protocol.video_state(
                        show,
                        str(data.get("session_id", "")),
                        "paused" if data.get("state") == "paused" else "playing",
                        str(data.get("reason", "bandwidth")),
                    ),
                )
            elif event.kind == "viewers_lost":
                for session in event.data.get("sessions", []):
                    await self.announcer.to_show(show, protocol.media_reconnect(show, str(session)))
        except Unavailable as exc:
            if event.kind == "recording_ready":
                log.warning(
                    "show %s: recording kept, attached when the database is back (%s)",
                    event.livestream_id,
                    exc,
                )
                task = asyncio.get_running_loop().create_task(self._attach_later(event))
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)
            else:
                log.warning("media event %s for show %s: %s", event.kind, event.livestream_id, exc)
        except Exception:
            log.exception("media event %s for show %s failed", event.kind, event.livestream_id)

    async def _attach_later(self, event: MediaEvent) -> None:
        delay = RETRY_MIN
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            try:
                await self._recording_ready(event.livestream_id, event.data)
            except Unavailable:
                delay = min(delay * 2, RETRY_MAX)
                continue
            except Exception:
                log.exception("attaching show %s's recording failed", event.livestream_id)
                return
            log.warning(
                "show %s: recording attached after the database came back", event.livestream_id
            )
            return

    async def close(self) -> None:
        """Stop retrying (the files stay on disk; ``liveshop`` does not attach them later)."""
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)

    def _relative(self, path: str | Path) -> str:
        resolved = Path(path)
        if resolved.is_absolute():
            resolved = resolved.resolve().relative_to(self.media_dir)
        return resolved.as_posix()

    async def _recording_ready(self, livestream_id: int, data: dict[str, Any]) -> None:
        path = Path(data["path"])
        duration = float(data.get("duration") or 0.0)
        thumbnail = data.get("thumbnail")
        async with self.db.session() as session:
            stream = await livestreams.get(session, livestream_id)
            # the segment ends about now: its time 0 is ``duration`` earlier on the show's clock
            started = utcnow() - timedelta(seconds=duration)
            await recordings.attach(
                session,
                livestream_id,
                path=self._relative(path),
                source=recordings.SERVER,
                size_bytes=path.stat().st_size if path.exists() else 0,
                duration_seconds=duration,
                start_offset_seconds=round(
                    max(0.0, (started - stream.start_time).total_seconds()), 3
                ),
                thumbnail_path=self._relative(thumbnail) if thumbnail else None,
            )
            ended = not stream.is_active
        await self.announcer.show_changed(livestream_id)
        if ended and self.renditions is not None:
            # a segment closed after the show ended: the replay now has all of them
            await self.renditions.request(livestream_id)
