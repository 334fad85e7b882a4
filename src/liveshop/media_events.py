"""What the app does when the media backend reports something (the backend knows nothing of us).

* a publisher connected → shoppers get ``webrtc_broadcast_start`` (their players attach now);
* a publisher left → shoppers get ``webrtc_broadcast_stop``;
* a recording segment is ready → attached to the show by the one rule of
  :func:`liveshop.storage.recordings.attach`, then ``stream_update`` is broadcast; when the show
  has ended, its MP4 rendition is (re)queued.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from liveshop import protocol
from liveshop.announcer import Announcer
from liveshop.media.base import MediaEvent
from liveshop.replay.renditions import RenditionWorker
from liveshop.storage import livestreams, recordings
from liveshop.storage.engine import Database
from liveshop.storage.models import utcnow

log = logging.getLogger(__name__)


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

    async def __call__(self, event: MediaEvent) -> None:
        try:
            show = event.livestream_id
            if event.kind == "publisher_connected":
                await self.announcer.to_show(show, protocol.broadcast_start(show, "server"))
            elif event.kind == "publisher_left":
                await self.announcer.to_show(show, protocol.broadcast_stop(show))
            elif event.kind == "recording_ready":
                await self._recording_ready(show, event.data)
        except Exception:
            log.exception("media event %s for show %s failed", event.kind, event.livestream_id)

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
