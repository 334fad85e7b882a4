"""Viewer RTT and loss from Janus's Admin API (``handle_info``), cached so stats stay cheap.

Janus measures each PeerConnection's round-trip time from the viewer's RTCP receiver reports
(``webrtc.media.<mid>.rtcp.main.rtt``, in ms) and the share of packets reaching it
(``out-media-link-quality``, 0-100, from the losses those reports give, smoothed), but only its
Admin API exposes them. One
:class:`JanusAdmin` talks to one instance's Admin endpoint (``POST {admin_url}/{session}/{handle}``
with ``admin_secret``); :class:`ViewerRtts` keeps the last RTT per viewer of each show and
refreshes a show in the background when its values are older than :data:`RTT_TTL_S`, so
``stats()`` never waits on Janus and asks it at most once per show and TTL, with one request per
viewer handle (concurrent, at most :data:`PARALLEL` at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

RTT_TTL_S = 2.0
REQUEST_TIMEOUT_S = 5.0
PARALLEL = 16


class JanusAdminError(Exception):
    """The Admin API refused a request or could not be reached."""


class JanusAdmin:
    """One Janus instance's Admin API over HTTP (only what liveshop needs: ``handle_info``)."""

    def __init__(self, url: str, secret: str = "") -> None:
        self.url = url.rstrip("/")
        self.secret = secret
        self._http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S)

    async def handle_info(self, session_id: int, handle_id: int) -> dict[str, Any]:
        """The ``info`` object Janus reports for one handle."""
        payload: dict[str, Any] = {"janus": "handle_info", "transaction": secrets.token_hex(8)}
        if self.secret:
            payload["admin_secret"] = self.secret
        try:
            response = await self._http.post(f"{self.url}/{session_id}/{handle_id}", json=payload)
            reply: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusAdminError(f"Janus Admin API at {self.url} is unreachable: {exc!r}") from exc
        if reply.get("janus") != "success":
            error = reply.get("error") or {}
            raise JanusAdminError(f"{error.get('reason', 'unknown error')} ({error.get('code')})")
        info: dict[str, Any] = reply.get("info") or {}
        return info

    async def close(self) -> None:
        await self._http.aclose()


def rtt_ms(info: dict[str, Any]) -> float | None:
    """The RTT (ms) of a handle from its ``handle_info``: the video medium's, else the audio's.

    None until the viewer's first receiver report: Janus reports 0 for both the RTT and the
    outgoing link quality until then (a measured RTT below 1 ms is also 0, with a link quality).
    """
    media = (info.get("webrtc") or {}).get("media") or {}
    best: float | None = None
    for medium in sorted(media.values(), key=lambda m: m.get("type") != "video"):
        main = (medium.get("rtcp") or {}).get("main") or {}
        rtt = main.get("rtt")
        if not isinstance(rtt, int | float):
            continue
        if rtt > 0 or main.get("out-link-quality", 0) > 0:
            best = float(rtt)
            break
    return best


def loss_pct(info: dict[str, Any]) -> float | None:
    """The share of packets (percent) a viewer's receiver reports say it lost, from Janus's
    outgoing media link quality (100 = nothing lost): the video medium's, else the audio's.
    None until the viewer's first receiver report (Janus reports 0 quality until then)."""
    media = (info.get("webrtc") or {}).get("media") or {}
    for medium in sorted(media.values(), key=lambda m: m.get("type") != "video"):
        main = (medium.get("rtcp") or {}).get("main") or {}
        quality = main.get("out-media-link-quality")
        if isinstance(quality, int | float) and main.get("out-link-quality", 0) > 0:
            return float(max(0.0, min(100.0, 100.0 - quality)))
    return None


@dataclass(frozen=True)
class Target:
    """One viewer to ask about: its id in liveshop and its handle on a Janus instance."""

    viewer_id: str
    admin: JanusAdmin
    session_id: int
    handle_id: int


class ViewerRtts:
    """The last RTT (and loss) per viewer of each show, refreshed in the background (see module
    doc)."""

    def __init__(self, ttl: float = RTT_TTL_S) -> None:
        self.ttl = ttl
        self._values: dict[int, dict[str, float]] = {}
        self._losses: dict[int, dict[str, float]] = {}
        self._refreshed: dict[int, float] = {}
        self._refreshing: dict[int, asyncio.Task[None]] = {}

    def get(self, livestream_id: int, targets: Callable[[], list[Target]]) -> dict[str, float]:
        """The cached RTT per viewer id of the show; starts a refresh when stale.

        ``targets`` is only called when a refresh starts. Never waits: the first call for a show
        returns ``{}`` (later calls, the values of the last refresh).
        """
        stale = time.monotonic() - self._refreshed.get(livestream_id, -1e9) >= self.ttl
        if stale and livestream_id not in self._refreshing:
            with contextlib.suppress(RuntimeError):  # no running loop: no refresh
                task = asyncio.get_running_loop().create_task(
                    self.refresh(livestream_id, targets())
                )
                self._refreshing[livestream_id] = task
                task.add_done_callback(lambda _: self._refreshing.pop(livestream_id, None))
        return dict(self._values.get(livestream_id, {}))

    async def refresh(self, livestream_id: int, targets: list[Target]) -> None:
        """Ask Janus about every target now; viewers no longer listed are forgotten."""
        self._refreshed[livestream_id] = time.monotonic()
        slots = asyncio.Semaphore(PARALLEL)

        async def one(target: Target) -> tuple[str, float | None, float | None]:
            async with slots:
                try:
                    info = await target.admin.handle_info(target.session_id, target.handle_id)
                except JanusAdminError as exc:
                    logger.debug("no RTT for viewer %s: %s", target.viewer_id, exc)
                    return target.viewer_id, None, None
                return target.viewer_id, rtt_ms(info), loss_pct(info)

        results = await asyncio.gather(*(one(t) for t in targets))
        rtts = {viewer_id: rtt for viewer_id, rtt, _ in results}
        losses = {viewer_id: loss for viewer_id, _, loss in results}
        for fresh, table in ((rtts, self._values), (losses, self._losses)):
            previous = table.get(livestream_id, {})
            values: dict[str, float] = {}
            for viewer_id, value in fresh.items():
                if value is not None:
                    values[viewer_id] = value
                elif viewer_id in previous:  # keep the last known value over a failed request
                    values[viewer_id] = previous[viewer_id]
            table[livestream_id] = values

    async def settled(self, livestream_id: int) -> None:
        """Return once the show's background refresh (if one is running) has finished."""
        task = self._refreshing.get(livestream_id)
        if task is not None:
            await asyncio.shield(task)

    def values(self, livestream_id: int) -> dict[str, float]:
        """The cached RTT (ms) per viewer id (no refresh)."""
        return dict(self._values.get(livestream_id, {}))

    def losses(self, livestream_id: int) -> dict[str, float]:
        """The cached loss (percent) per viewer id, from the same refreshes (no refresh)."""
        return dict(self._losses.get(livestream_id, {}))

    def forget(self, livestream_id: int) -> None:
        self._values.pop(livestream_id, None)
        self._losses.pop(livestream_id, None)
        self._refreshed.pop(livestream_id, None)

    async def close(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._refreshing.clear()
