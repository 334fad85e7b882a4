"""What every server-side backend shares: its background tasks and the events it emits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from aiortc import RTCIceServer

from .base import EventCallback, EventKind, MediaEvent
from .recording import RecordingResult

logger = logging.getLogger(__name__)


def ice_server_objects(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    """``LIVESHOP_ICE_SERVERS`` entries as aiortc objects."""
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
    ]


class BackgroundTasks:
    """Tasks a backend starts and must finish before it closes, and its event emission.

    Guarantees: every spawned task is tracked until it ends; a failing task is logged, never
    lost silently; events are delivered to ``on_event`` in tasks, so a slow listener never blocks
    the media path.
    """

    on_event: EventCallback

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("media task failed", exc_info=task.exception())

    def _emit(self, kind: EventKind, livestream_id: int, data: dict[str, Any]) -> None:
        self._spawn(self.on_event(MediaEvent(kind=kind, livestream_id=livestream_id, data=data)))

    def _emit_recording(self, livestream_id: int, result: RecordingResult) -> None:
        """``recording_ready`` for a finished segment (nothing when it recorded nothing)."""
        if result.path is None:
            return
        self._emit(
            "recording_ready",
            livestream_id,
            {
                "path": str(result.path),
                "thumbnail": str(result.thumbnail) if result.thumbnail else None,
                "duration": result.duration,
                "segment": result.segment,
                "codec": result.codec,
                "droppedPackets": result.dropped_packets,
            },
        )

    async def _finish_others(self) -> None:
        """Wait for every tracked task but the current one (e.g. recordings being finished)."""
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _finish_all(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class SessionRooms(BackgroundTasks):
    """Publisher and viewer sessions kept per show (``rooms``), ended the same way by every
    server-side backend. Subclasses close one publisher or viewer; ``_room_ended`` frees what a
    backend keeps per show elsewhere (e.g. rooms on Janus instances)."""

    rooms: dict[int, Any]

    def __init__(
        self,
        *,
        media_dir: Path,
        ice_servers: list[dict[str, Any]],
        on_event: EventCallback,
        record: bool,
        thumbnail_after: float,
    ) -> None:
        super().__init__()
        self.media_dir = Path(media_dir)
        self.ice_servers = ice_server_objects(ice_servers)
        self.on_event = on_event
        self.record = record
        self.thumbnail_after = thumbnail_after
        self.rooms = {}
        self._closing = False

    async def _close_publisher(
        self, room: Any, publisher: Any, reason: str, notify: bool = True
    ) -> None:
        raise NotImplementedError

    async def _close_viewer(self, room: Any, viewer: Any) -> None:
        raise NotImplementedError

    async def _room_ended(self, room: Any) -> None:
        """Called under the room's lock once its publisher and viewers are closed."""

    async def end_session(self, livestream_id: int, session_id: str) -> bool:
        room = self.rooms.get(livestream_id)
        if room is None:
            return False
        if room.publisher is not None and room.publisher.session_id == session_id:
            await self._close_publisher(room, room.publisher, "deleted")
            return True
        viewer = room.viewers.get(session_id)
        if viewer is not None:
            await self._close_viewer(room, viewer)
            return True
        return False

    async def end_show(self, livestream_id: int) -> None:
        room = self.rooms.get(livestream_id)
        if room is None:
            return
        async with room.lock:
            if room.publisher is not None:
                await self._close_publisher(room, room.publisher, "show_ended")
            for viewer in list(room.viewers.values()):
                await self._close_viewer(room, viewer)
            await self._room_ended(room)
        await self._finish_others()  # let recordings finish (their events are tasks)
        if not room.viewers and room.publisher is None:
            self.rooms.pop(livestream_id, None)
