"""Per-viewer simulcast layers in ``janus`` mode: liveshop decides, VideoRoom forwards.

VideoRoom sends each subscriber of a simulcast publisher one substream (0 lowest … 2 highest)
and switches when told with ``configure {streams: [{mid, substream, temporal}]}`` (at the target
substream's next keyframe; it asks the publisher for one). It does not adapt by itself: Janus
1.1 ignores a subscriber's REMB (VideoRoom) and only drops to a lower substream when the target
one stops arriving (``fallback``, 250 ms). So liveshop runs the ``sfu`` mode's rule
(:class:`~liveshop.domain.layers.LayerSelector`, one per viewer) on what Janus reports:

* **every** :data:`POLL_S` seconds, per show with simulcast viewers in this process: the
  publisher's ``handle_info`` on the origin (each substream's bitrate over Janus's last second)
  and each viewer's ``handle_info`` (packets sent and lost according to its receiver reports,
  per kind; the video rate sent; RTT; the substream Janus forwards). The loss over the interval
  feeds :meth:`~liveshop.domain.layers.LayerSelector.report_loss` (video's; audio's while video
  is paused), the RTT ``report_rtt``. No REMB (Janus 1.1's Admin API does not report it);
* **the player size** (``POST …/whep/{session}/player``) sets the selector's ``max_height`` and
  is acted on at once;
* the choice is applied with ``configure``: ``substream`` (``temporal`` 2: every temporal
  layer) or ``send: false`` to pause the video (below the lowest layer; audio continues) and
  ``send: true`` to resume it; ``on_video`` is told of each pause and resume (the backend emits
  ``viewer_video``, so the watch page says "audio only" as in ``sfu`` mode).

Without the Admin API (``LIVESHOP_JANUS_ADMIN_URLS``) only the player size acts (no loss, no
layer rates). Layer heights: the top one measured by the monitor, each lower one half the one
above (:func:`~liveshop.media.janus.simulcast.layer_heights`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...domain.layers import Layer, LayerSelector
from ..base import NO_PLAYBACK, Playback
from . import videoroom
from .admin import JanusAdmin, JanusAdminError
from .client import JanusError
from .instances import Instance
from .placement.base import Placement
from .simulcast import LinkSample, interval_loss, layer_heights, link_sample, publisher_rates

logger = logging.getLogger(__name__)

POLL_S = 1.0
PARALLEL = 16


@dataclass(eq=False)
class ViewerLink:
    """One simulcast viewer of this process: its subscriber handle and its layer choice."""

    viewer_id: str
    livestream_id: int
    instance: Instance
    handle: int
    mid: str | None  # the video m-line's mid in the subscription
    names: list[str]  # the publisher's RIDs, substream 0 first
    selector: LayerSelector = field(default_factory=LayerSelector)
    target: int | None = None  # the substream asked for (None: the default, the top one)
    paused: bool = False
    substream: int | None = None  # what Janus says it forwards
    last: LinkSample | None = None
    switches: int = 0
    playback: Playback | None = None  # what the viewer's browser last counted
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def layer(self) -> str | None:
        """The RID being forwarded (as Janus last said; else the one asked for)."""
        index = self.substream if self.substream is not None else self.target
        if index is None:
            index = len(self.names) - 1
        return self.names[index] if 0 <= index < len(self.names) else None

    def describe(self) -> dict[str, Any]:
        """This viewer's link as the stats route shows it (``viewerLinks``)."""
        sel = self.selector
        budget = sel.budget_bps()
        return {
            "layer": None if self.paused else self.layer,
            "paused": self.paused,
            "bandwidthKbps": round(budget / 1000, 1) if budget != float("inf") else None,
            "rembKbps": None,  # Janus 1.1 does not report the viewer's REMB
            "loss": round(sel.loss, 3),
            "rttMs": round(sel.rtt_s * 1000, 1) if sel.rtt_s is not None else None,
            "switches": self.switches,
            **(self.playback.describe() if self.playback is not None else NO_PLAYBACK),
        }


class LayerControl:
    """Drives the substream of every simulcast viewer of this process (see module doc).

    Guarantees: never more than one ``configure`` in flight per viewer; a failed request (Janus
    or its Admin API away) is logged and retried on the next poll; the poll task runs only
    while there are simulcast viewers and is gone after :meth:`close`.
    """

    def __init__(
        self,
        *,
        admins: dict[str, JanusAdmin | None],
        placement: Placement,
        top_height: Callable[[int], int | None],
        on_video: Callable[[int, str, bool], None] = lambda show, viewer, paused: None,
        poll_s: float = POLL_S,
    ) -> None:
        self.on_video = on_video  # (show, viewer, paused): a viewer's video paused / resumed
        self.admins = admins  # each instance's Admin API by its URL (None: not configured)
        self.placement = placement
        self.top_height = top_height
        self.poll_s = poll_s
        self.links: dict[str, ViewerLink] = {}
        self.rates: dict[int, list[float]] = {}  # per show: each substream's rate, lowest first
        self._task: asyncio.Task[None] | None = None
        self._choosing: set[asyncio.Task[None]] = set()  # size reports being acted on
        self._slots = asyncio.Semaphore(PARALLEL)

    # viewers -----------------------------------------------------------------------------------

    def add(self, link: ViewerLink) -> None:
        """Start choosing ``link``'s layer (Janus sends the top one until told otherwise)."""
        self.links[link.viewer_id] = link
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="janus-layers")

    def remove(self, viewer_id: str) -> None:
        """Stop choosing for the viewer (it left)."""
        link = self.links.pop(viewer_id, None)
        if link is None:
            return
        link.closed = True
        if not any(x.livestream_id == link.livestream_id for x in self.links.values()):
            self.rates.pop(link.livestream_id, None)

    def on_substream(self, viewer_id: str, substream: int) -> None:
        """Janus said it now forwards ``substream`` to the viewer (a VideoRoom event)."""
        link = self.links.get(viewer_id)
        if link is not None:
            link.substream = substream

    def set_playback(self, viewer_id: str, playback: Playback) -> bool:
        """What the viewer's browser last counted of its playback (shown by :meth:`describe`).
        False when the viewer is not a simulcast viewer of this process."""
        link = self.links.get(viewer_id)
        if link is None:
            return False
        link.playback = playback
        return True

    def set_max_height(self, viewer_id: str, height: int | None) -> bool:
        """The viewer's player is ``height`` device pixels tall (None: no limit); acted on at
        once. False when the viewer is not a simulcast viewer of this process."""
        link = self.links.get(viewer_id)
        if link is None:
            return False
        link.selector.max_height = height
        task = asyncio.ensure_future(self._choose(link, time.monotonic()))
        self._choosing.add(task)
        task.add_done_callback(self._chosen)
        return True

    def _chosen(self, task: asyncio.Task[None]) -> None:
        self._choosing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("janus layer choice failed", exc_info=task.exception())

    def describe(self, livestream_id: int) -> list[dict[str, Any]]:
        """``viewerLinks`` of the show's simulcast viewers in this process."""
        return [x.describe() for x in self.links.values() if x.livestream_id == livestream_id]

    # the rule ----------------------------------------------------------------------------------

    def layers(self, link: ViewerLink) -> list[Layer]:
        """The show's layers as the rule sees them, lowest first (layers Janus reports no
        packets of are left out; every layer, rate unknown, without the Admin API)."""
        count = len(link.names)
        rates = self.rates.get(link.livestream_id)
        heights = layer_heights(self.top_height(link.livestream_id), count)
        layers = []
        for i, name in enumerate(link.names):
            rate = rates[i] if rates is not None and i < len(rates) else 0.0
            if rates is not None and rate <= 0:
                continue  # not flowing (a browser stops sending a layer it cannot afford)
            layers.append(Layer(name, rate, heights[i]))
        return layers

    async def _choose(self, link: ViewerLink, now: float) -> None:
        layers = self.layers(link)
        if not layers or link.closed:
            return
        choice = link.selector.choose(now, layers)
        await self._apply(link, choice)

    async def _apply(self, link: ViewerLink, choice: str | None) -> None:
        async with link.lock:
            if link.closed or link.mid is None:
                return
            index = link.names.index(choice) if choice is not None else None
            top = len(link.names) - 1
            current = link.target if link.target is not None else top
            if index is None and link.paused:
                return
            if index is not None and index == current and not link.paused:
                return
            body = videoroom.configure_video(link.mid, index, resume=link.paused)
            session = link.instance.session
            if session is None or not link.instance.up:
                return
            try:
                await session.message(link.handle, body)
            except JanusError as exc:
                logger.debug("viewer %s: configure failed: %s", link.viewer_id, exc)
                return
            resumed = link.paused and index is not None
            if index is None:
                link.paused = True
            else:
                if index != current or link.paused:
                    link.switches += 1
                link.paused = False
                link.target = index
            if index is None or resumed:
                self.on_video(link.livestream_id, link.viewer_id, link.paused)

    # polling -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while self.links:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # never let one bad answer end the control loop
                logger.exception("janus layer control")
            await asyncio.sleep(max(0.0, self.poll_s - (time.monotonic() - started)))

    async def poll(self) -> None:
        """One round: the publishers' layer rates, then every viewer's link and choice."""
        shows = {x.livestream_id: len(x.names) for x in self.links.values()}
        await asyncio.gather(*(self._poll_publisher(s, n) for s, n in shows.items()))
        await asyncio.gather(*(self._poll_viewer(x) for x in list(self.links.values())))

    async def _poll_publisher(self, livestream_id: int, count: int) -> None:
        """The publisher's substream rates, from its handle on the origin (any process's)."""
        show = await self.placement.get_show(livestream_id)
        record = await self.placement.find_session(show.session_id) if show else None
        admin = self.admins.get(record.url) if record is not None else None
        if record is None or admin is None:
            return
        try:
            info = await admin.handle_info(record.janus_session, record.handle)
        except JanusAdminError as exc:
            logger.debug("show %s: no layer rates: %s", livestream_id, exc)
            return
        rates = publisher_rates(info, count)
        if rates is not None:
            self.rates[livestream_id] = rates

    async def _poll_viewer(self, link: ViewerLink) -> None:
        admin = self.admins.get(link.instance.url)
        session = link.instance.session
        now = time.monotonic()
        if admin is not None and session is not None and session.session_id is not None:
            async with self._slots:
                try:
                    info = await admin.handle_info(session.session_id, link.handle)
                except JanusAdminError as exc:
                    logger.debug("viewer %s: no link report: %s", link.viewer_id, exc)
                    info = None
            if info is not None and not link.closed:
                self._report(link, link_sample(info, link.mid), now)
        await self._choose(link, now)

    def _report(self, link: ViewerLink, sample: LinkSample, now: float) -> None:
        before, link.last = link.last, sample
        if sample.substream is not None:
            link.substream = sample.substream
        sel = link.selector
        if sample.rtt_ms is not None:
            sel.report_rtt(now, sample.rtt_ms / 1000, 0.0 if link.paused else sample.rate_bps)
        # video's own reports while it flows; the audio's while it is paused
        kind = "audio" if link.paused else "video"
        loss = interval_loss(before, sample, kind)
        if loss is not None:
            sel.report_loss(now, loss, 0.0 if link.paused else sample.rate_bps)

    async def close(self) -> None:
        for link in self.links.values():
            link.closed = True
        self.links.clear()
        for task in list(self._choosing):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
