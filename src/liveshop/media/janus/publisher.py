"""The publisher (WHIP) in ``janus`` mode: one VideoRoom publisher on the show's origin.

liveshop checks the offer like the ``sfu`` mode does (same 400/415/422), puts the publisher on
the origin instance and sends ``joinandconfigure`` with the offer; Janus's answer is the WHIP
answer. ``webrtcup`` makes the show live for every process, then ``publisher_connected`` is
emitted and the monitor (stats + recording) subscribes. When the publisher leaves, every
process's viewers are hung up and its remote copies removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiortc import RTCIceServer

from ..base import EventKind, MediaError, MediaSession
from ..negotiation import check_direction, choose_publisher_codec, parse_offer
from ..recording import Recorder, RecordingResult, next_segment
from . import videoroom
from .client import JanusError
from .instances import Handler, InstancePool
from .monitor import Monitor
from .placement.base import Placement, SessionRecord, ShowRecord
from .remotes import RemoteCopies
from .sdp import without_mdns_candidates
from .show import Publisher, Room
from .simulcast import substream_rids
from .viewers import Viewers

logger = logging.getLogger(__name__)

Emit = Callable[[EventKind, int, dict[str, Any]], None]


class Publishers:
    """Starts, monitors and ends the publishers this process drives (see module doc).

    Guarantees: at most one publisher per show over every process (under the placement's show
    lock); the placement's publisher record is only changed for the session that wrote it;
    ``publisher_left`` is emitted once per publisher (not for a replaced one) and its recording
    is finished before :meth:`close` returns.
    """

    def __init__(
        self,
        *,
        pool: InstancePool,
        placement: Placement,
        viewers: Viewers,
        remotes: RemoteCopies,
        room_of: Callable[[int], Room],
        report: Callable[[], Awaitable[None]],
        spawn: Callable[[Awaitable[Any]], None],
        emit: Emit,
        emit_recording: Callable[[int, RecordingResult], None],
        ice_servers: list[RTCIceServer],
        media_dir: Path,
        record: bool,
        thumbnail_after: float,
    ) -> None:
        self.pool = pool
        self.placement = placement
        self.viewers = viewers
        self.remotes = remotes
        self._room_of = room_of
        self._report = report
        self._spawn = spawn
        self._emit = emit
        self._emit_recording = emit_recording
        self.ice_servers = ice_servers
        self.media_dir = media_dir
        self.record = record
        self.thumbnail_after = thumbnail_after

    @property
    def _me(self) -> str:
        return self.placement.process_id

    async def publish(self, livestream_id: int, offer_sdp: str, *, replace: bool) -> MediaSession:
        """Publish on the origin; :class:`MediaError` 400/415/422 for the offer, 409 when the
        show has a publisher and ``replace`` is false, 503 when Janus is unreachable."""
        offer = parse_offer(offer_sdp)
        video_codec = None
        for media in offer.media:
            check_direction(media, "publisher")
            codec = choose_publisher_codec(media)  # 415 before Janus is involved
            if media.kind == "video":  # the publisher's preference, as in sfu mode
                video_codec = codec.mimeType.split("/", 1)[1].lower()
        layers, rid_order = substream_rids(offer_sdp)  # simulcast: 400 when malformed
        room = self._room_of(livestream_id)
        async with room.lock, self.placement.lock(f"show:{livestream_id}"):
            old = room.publisher
            shared = await self.placement.get_show(livestream_id)
            if shared is not None and old is not None and shared.session_id == old.session_id:
                shared = None  # ours: ``old``
            if ((old is not None and not old.closed) or shared is not None) and not replace:
                raise MediaError(409, "this livestream already has a publisher")
            if old is not None:
                await self.close(room, old, "replaced", notify=False)
            if shared is not None:  # another process's publisher: hang it up through Janus
                await self.pool.end_elsewhere(livestream_id, shared.session_id)
            inst = await self.pool.origin()
            try:
                session = inst.live_session()
                await self.pool.ensure_room(room.livestream_id, inst)
                handle = await session.attach()
            except JanusError as exc:
                raise MediaError(503, f"Janus media server error: {exc}") from exc
            feed = await self.placement.next_number(livestream_id, "feed")
            publisher = Publisher(
                session_id=secrets.token_urlsafe(12),
                instance=inst,
                handle=handle,
                feed=feed,
                codec="",
                streams=[],
                layers=layers,
            )
            inst.handles[handle] = self._handler(room, publisher)
            try:
                data, jsep = await session.message(
                    handle,
                    videoroom.join_publisher(room.janus_room, feed, video_codec),
                    {
                        "type": "offer",
                        "sdp": without_mdns_candidates(offer_sdp),
                        "rid_order": rid_order,
                    },
                )
                if jsep is None or jsep.get("type") != "answer":
                    raise JanusError(0, "Janus did not answer the offer")
            except JanusError as exc:
                inst.handles.pop(handle, None)
                with contextlib.suppress(JanusError):
                    await session.detach(handle)
                raise videoroom.media_error(exc) from exc
            publisher.codec = videoroom.published_codec(data)
            publisher.streams = videoroom.published_streams(data)
            if not publisher.codec:
                inst.handles.pop(handle, None)
                await session.detach(handle)
                raise MediaError(415, "Janus accepted no VP8/H.264 video from the offer")
            inst.publishers += 1
            room.publisher = publisher
            assert session.session_id is not None
            await self.placement.set_show(
                livestream_id,
                ShowRecord(
                    session_id=publisher.session_id,
                    owner=self._me,
                    origin=inst.url,
                    feed=feed,
                    codec=publisher.codec,
                    streams=publisher.streams,
                    layers=publisher.layers,
                ),
            )
            await self.placement.add_session(
                publisher.session_id,
                SessionRecord(
                    livestream_id, "publisher", inst.url, session.session_id, handle, self._me
                ),
            )
            await self._report()
        return MediaSession(session_id=publisher.session_id, answer_sdp=str(jsep["sdp"]))

    def _handler(self, room: Room, publisher: Publisher) -> Handler:
        def handle(event: dict[str, Any]) -> None:
            kind = event.get("janus")
            if kind == "webrtcup" and not publisher.connected and not publisher.closed:
                publisher.connected = True
                publisher.instance.subscribers += 1  # the monitor's, counted before anyone asks
                self._spawn(self._went_live(room, publisher))
                publisher.starting = asyncio.ensure_future(self._start_monitor(room, publisher))
            elif kind in ("hangup", "detached") and not publisher.closed:
                self._spawn(self.close(room, publisher, "hangup"))

        return handle

    async def _went_live(self, room: Room, publisher: Publisher) -> None:
        """Live for every process first, then ``publisher_connected`` (viewers may come anywhere)."""
        await self._report()
        await self.placement.update_show(room.livestream_id, publisher.session_id, live=True)
        if not publisher.closed:
            self._emit(
                "publisher_connected",
                room.livestream_id,
                {"session_id": publisher.session_id, "codec": publisher.codec},
            )

    async def close(
        self, room: Room, publisher: Publisher, reason: str, notify: bool = True
    ) -> None:
        """End the publisher: its viewers (every process's) when it is the show's current one,
        its remote copies, its handle, then ``publisher_left`` (if ``notify``) and its
        recording. Idempotent."""
        if publisher.closed:
            return
        publisher.closed = True
        current = room.publisher is publisher
        if current:
            room.publisher = None
        inst = publisher.instance
        inst.handles.pop(publisher.handle, None)
        if inst.up:
            inst.publishers = max(0, inst.publishers - 1)
        livestream_id = room.livestream_id
        await self.placement.clear_show(livestream_id, publisher.session_id)  # not live anywhere
        await self.placement.remove_session(publisher.session_id)
        # viewers first (they are hung up by detaching their handles), then the remote copies
        if current:
            for viewer in list(room.viewers.values()):
                await self.viewers.close(room, viewer)
            for session_id, record in (await self.placement.show_sessions(livestream_id)).items():
                if record.kind == "viewer" and record.owner != self._me:  # other processes'
                    await self.pool.hang_up(record)
                    await self.placement.remove_session(session_id)
        for url, remote in (await self.placement.remotes(livestream_id)).items():
            if remote.feed == publisher.feed:
                await self.placement.remove_remote(livestream_id, url)
                await self.remotes.remove(livestream_id, inst, url, remote)
        await self._report()
        if inst.up and inst.session is not None:
            with contextlib.suppress(JanusError):
                await inst.session.detach(publisher.handle)
        if notify:
            self._emit(
                "publisher_left",
                room.livestream_id,
                {"session_id": publisher.session_id, "reason": reason},
            )
        if publisher.starting is not None:
            with contextlib.suppress(Exception):
                await publisher.starting
        if publisher.monitor is not None:
            await self._close_monitor(room, publisher.monitor)

    # monitor: stats + recording ----------------------------------------------------------------

    async def _start_monitor(self, room: Room, publisher: Publisher) -> None:
        """The monitor's subscriber slot was counted already (on ``webrtcup``)."""
        inst = publisher.instance
        try:
            monitor = await Monitor.attach(inst, self.ice_servers)
        except JanusError as exc:
            logger.warning("show %s: no monitor (%s)", room.livestream_id, exc)
            inst.release_subscriber()
            return
        publisher.monitor = monitor

        async def recorder(has_audio: bool) -> Recorder | None:
            if not self.record or publisher.closed:
                return None
            segment = await self.placement.next_number(room.livestream_id, "segment")
            directory = self.media_dir / "livestreams" / str(room.livestream_id)
            return Recorder(
                directory,
                next_segment(directory, segment - 1),
                publisher.codec,
                has_audio,
                thumbnail_after=self.thumbnail_after,
            )

        await monitor.subscribe(room.janus_room, publisher.feed, publisher.codec, recorder)

    async def _close_monitor(self, room: Room, monitor: Monitor) -> None:
        if not await monitor.detach():
            return
        await self._report()
        result = await monitor.finish()
        if result is not None:
            self._emit_recording(room.livestream_id, result)
