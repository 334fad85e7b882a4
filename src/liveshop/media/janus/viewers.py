"""Viewers (WHEP) in ``janus`` mode: placed on an instance, subscribed to the show's feed there.

The viewer goes to the up instance with the fewest subscribers (over every process) under the
per-instance cap; on an instance other than the origin the publisher is copied there first
(:mod:`~liveshop.media.janus.remotes`). VideoRoom offers to subscribers, WHEP clients offer too:
both sides are answered by :func:`~liveshop.media.janus.sdp.bridge`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..base import MediaError, MediaSession
from ..negotiation import check_direction, parse_offer
from . import videoroom
from .client import JanusError, JanusSession
from .instances import Handler, InstancePool
from .layers import LayerControl, ViewerLink
from .placement.base import Placement, SessionRecord
from .remotes import RemoteCopies
from .sdp import bridge, media_mid
from .show import Room, Viewer

logger = logging.getLogger(__name__)

REMOTE_READY_S = 3.0

Spawn = Callable[[Awaitable[Any]], None]


class Viewers:
    """Places, subscribes and ends this process's viewers (see module doc).

    Guarantees: a failed ``watch`` leaves no handle, subscriber slot or session record behind;
    a viewer is recorded in the placement before the publisher is checked once more, so a
    publisher leaving at the same time either hangs it up or is seen here (409).
    """

    def __init__(
        self,
        *,
        pool: InstancePool,
        placement: Placement,
        remotes: RemoteCopies,
        room_of: Callable[[int], Room],
        report: Callable[[], Awaitable[None]],
        spawn: Spawn,
        layers: LayerControl,
    ) -> None:
        self.pool = pool
        self.layers = layers
        self.placement = placement
        self.remotes = remotes
        self._room_of = room_of
        self._report = report
        self._spawn = spawn

    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        """Subscribe a WHEP viewer; :class:`MediaError` 400/415/422 for the offer, 409 when not
        live, 503 when no instance can take it."""
        offer = parse_offer(offer_sdp)
        for media in offer.media:
            check_direction(media, "viewer")
        show = await self.placement.get_show(livestream_id)
        if show is None or not show.live:
            raise MediaError(409, "not live")
        room = self._room_of(livestream_id)
        publisher = room.publisher if room.publisher is not None else None
        if publisher is not None and publisher.session_id != show.session_id:
            publisher = None  # not ours (any more)
        inst = await self.pool.place_viewer()
        inst.subscribers += 1  # reserve the slot while negotiating
        handle: int | None = None
        session: JanusSession | None = None
        try:
            await self.remotes.ensure(room.livestream_id, show, inst)
            session = inst.live_session()
            handle = await session.attach()
            join = videoroom.join_subscriber(room.janus_room, show.feed)
            jsep = await self._join(session, handle, join, remote=inst.url != show.origin)
            if jsep is None or jsep.get("type") != "offer":
                raise JanusError(0, "Janus sent no subscriber offer")
            answers = bridge(offer_sdp, str(jsep["sdp"]))
            await session.message(
                handle, videoroom.start(), {"type": "answer", "sdp": answers.janus_answer}
            )
            if publisher is not None and (room.publisher is not publisher or publisher.closed):
                raise MediaError(409, "not live: the publisher left")
        except BaseException as exc:
            inst.release_subscriber()
            if handle is not None and session is not None:
                with contextlib.suppress(JanusError):
                    await session.detach(handle)
            if isinstance(exc, JanusError):
                raise videoroom.media_error(exc) from exc
            raise
        viewer = Viewer(session_id=secrets.token_urlsafe(12), instance=inst, handle=handle)
        room.viewers[viewer.session_id] = viewer
        inst.handles[handle] = self._handler(room, viewer)
        if show.layers:  # simulcast: liveshop picks the substream (Janus starts on the top one)
            mid = media_mid(str(jsep["sdp"]), "video")
            link = ViewerLink(viewer.session_id, livestream_id, inst, handle, mid, show.layers)
            self.layers.add(link)
        assert session.session_id is not None
        record = SessionRecord(
            livestream_id, "viewer", inst.url, session.session_id, handle, self.placement.process_id
        )
        await self.placement.add_session(viewer.session_id, record)
        await self._report()
        # recorded before this check: a publisher leaving now either sees the record (and hangs
        # the viewer up) or is seen here
        current = await self.placement.get_show(livestream_id)
        if current is None or current.session_id != show.session_id:
            await self.close(room, viewer)
            raise MediaError(409, "not live: the publisher left")
        return MediaSession(session_id=viewer.session_id, answer_sdp=answers.viewer_answer)

    async def _join(
        self, session: JanusSession, handle: int, join: dict[str, Any], *, remote: bool
    ) -> dict[str, Any] | None:
        """``join`` as a subscriber; a remote copy just added may answer "no such feed" (428)
        until the first forwarded packets arrive: retried for up to :data:`REMOTE_READY_S`."""
        deadline = time.monotonic() + (REMOTE_READY_S if remote else 0.0)
        while True:
            try:
                _, jsep = await session.message(handle, join)
                return jsep
            except JanusError as exc:
                if exc.code != 428 or time.monotonic() >= deadline:
                    raise
                logger.debug("remote copy not ready yet (%s); retrying the join", exc)
            await asyncio.sleep(0.1)

    def _handler(self, room: Room, viewer: Viewer) -> Handler:
        def handle(event: dict[str, Any]) -> None:
            if event.get("janus") in ("hangup", "detached") and not viewer.closed:
                self._spawn(self.close(room, viewer))
            data = (event.get("plugindata") or {}).get("data") or {}
            if isinstance(data.get("substream"), int):  # VideoRoom switched its substream
                self.layers.on_substream(viewer.session_id, data["substream"])

        return handle

    async def close(self, room: Room, viewer: Viewer) -> None:
        """Detach the viewer's handle (Janus hangs its PeerConnection up) and forget it;
        idempotent."""
        if viewer.closed:
            return
        viewer.closed = True
        room.viewers.pop(viewer.session_id, None)
        self.layers.remove(viewer.session_id)
        inst = viewer.instance
        inst.handles.pop(viewer.handle, None)
        if inst.up and inst.session is not None:
            inst.subscribers = max(0, inst.subscribers - 1)
            with contextlib.suppress(JanusError):
                await inst.session.detach(viewer.handle)
        await self.placement.remove_session(viewer.session_id)
        await self._report()
