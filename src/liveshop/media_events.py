"""What the app does when the media backend reports something (the backend knows nothing of us).

* a publisher connected → shoppers get ``webrtc_broadcast_start`` (their players attach now);
* a publisher left → shoppers get ``webrtc_broadcast_stop``;
* a recording segment is ready → stored as a recording; the first segment becomes the show's
  ``videoUrl``/``thumbnailUrl``, ``durationSeconds`` is the sum, and ``stream_update`` is broadcast.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from liveshop import protocol
from liveshop.api.events import invalidate, publish_global, publish_show
from liveshop.api.schemas import dump, livestream_out
from liveshop.media.base import MediaEvent
from liveshop.services import Services
from liveshop.storage import livestreams
from liveshop.storage.models import Recording, utcnow

log = logging.getLogger(__name__)


def media_url(media_dir: Path, path: str | Path) -> str:
    """The public URL under ``/media/`` of a file inside the media directory."""
    relative = Path(path).resolve().relative_to(media_dir.resolve())
    return "/media/" + relative.as_posix()


class MediaEvents:
    """The ``on_event`` callback given to the media backend. Never raises."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, event: MediaEvent) -> None:
        try:
            if event.kind == "publisher_connected":
                await publish_show(
                    self.services,
                    event.livestream_id,
                    protocol.broadcast_start(event.livestream_id, "server"),
                )
            elif event.kind == "publisher_left":
                await publish_show(
                    self.services, event.livestream_id, protocol.broadcast_stop(event.livestream_id)
                )
            elif event.kind == "recording_ready":
                await self._recording_ready(event.livestream_id, event.data)
        except Exception:
            log.exception("media event %s for show %s failed", event.kind, event.livestream_id)

    async def _recording_ready(self, livestream_id: int, data: dict[str, Any]) -> None:
        media_dir = self.services.settings.effective_media_dir
        path = Path(data["path"])
        duration = float(data.get("duration") or 0.0)
        async with self.services.db.session() as session:
            stream = await livestreams.get(session, livestream_id)
            # the segment ends about now: its time 0 is ``duration`` earlier on the show's clock
            started = utcnow() - timedelta(seconds=duration)
            session.add(
                Recording(
                    start_offset_seconds=round(
                        max(0.0, (started - stream.start_time).total_seconds()), 3
                    ),
                    livestream_id=livestream_id,
                    path=str(path.relative_to(media_dir.resolve()))
                    if path.is_absolute()
                    else str(path),
                    source="server",
                    size_bytes=path.stat().st_size if path.exists() else 0,
                    duration_seconds=duration,
                )
            )
            await session.flush()
            total = await session.execute(
                select(Recording.duration_seconds).where(Recording.livestream_id == livestream_id)
            )
            if not stream.video_url:
                stream.video_url = media_url(media_dir, path)
            if data.get("thumbnail") and not stream.thumbnail_url:
                stream.thumbnail_url = media_url(media_dir, data["thumbnail"])
            stream.is_recorded = True
            stream.duration_seconds = round(sum(d or 0.0 for d in total.scalars()), 3)
            stream = await livestreams.touch(session, livestream_id)  # new revision, row as now
            pins = await livestreams.current_pins(session, livestream_id)
            out = livestream_out(stream, pins, 0)
        await invalidate(self.services, "livestreams")
        await publish_global(self.services, protocol.stream_update(dump(out), stream.revision))
