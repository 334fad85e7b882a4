"""The media backend interface the rest of liveshop calls.

A backend turns a publisher's WHIP offer and viewers' WHEP offers into SDP answers and moves the
media between them. The app owns HTTP, auth and storage; it hands the backend callbacks
(``on_event``) instead of the backend importing anything from ``liveshop.api``, ``liveshop.hub``
or ``liveshop.storage``.

Guarantees every implementation keeps:

* every failing call raises :class:`MediaError` with an HTTP ``status`` and a human ``detail``
  and leaves nothing half-open (no peer connection, task, thread or UDP port);
* :meth:`MediaBackend.close` frees every peer connection, task and UDP port it created.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "publisher_connected",
    "publisher_left",
    "recording_ready",
    "recording_paused",
    "recording_resumed",
    "viewers_lost",
    "viewer_video",
]


class MediaError(Exception):
    """A request the backend refuses; ``status`` is the HTTP code to answer with.

    400 malformed request (bad SDP), 404 unknown session, 409 state conflict (already published,
    not live), 415 unsupported codec, 422 well-formed but unusable offer (e.g. no video).
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def __repr__(self) -> str:
        return f"MediaError({self.status}, {self.detail!r})"


@dataclass
class MediaSession:
    """The result of a WHIP/WHEP offer: the session (for DELETE) and the SDP answer."""

    session_id: str
    answer_sdp: str
    etag: str | None = None


@dataclass(frozen=True)
class Playback:
    """How one viewer's player is doing, as its browser counts it (WebRTC's inbound video
    ``freezeCount``, ``totalFreezesDuration``, ``framesDecoded``, since its session began)."""

    freezes: int
    freeze_seconds: float
    frames_decoded: int

    def describe(self) -> dict[str, Any]:
        """The fields a ``viewerLinks`` entry shows."""
        return {
            "freezes": self.freezes,
            "freezeSeconds": round(self.freeze_seconds, 3),
            "framesDecoded": self.frames_decoded,
        }


NO_PLAYBACK: dict[str, Any] = {"freezes": None, "freezeSeconds": None, "framesDecoded": None}


@dataclass
class MediaEvent:
    """Something the app should know about.

    * ``publisher_connected``: ``data = {"session_id", "codec"}``
    * ``publisher_left``: ``data = {"session_id", "reason"}``
    * ``recording_ready``: ``data = {"path", "thumbnail" (path or None), "duration" (seconds),
      "segment" (1, 2, ...), "codec"}``
    * ``recording_paused``: ``data = {"reason": "disk_full" | "write_failed", "detail"}`` (the
      failed segment's ``recording_ready`` came first; live media goes on)
    * ``recording_resumed``: ``data = {"segment"}`` (a new segment started)
    * ``viewers_lost``: ``data = {"sessions": [session ids]}``: their media server went away
      while the show goes on; they should make a new WHEP offer (placed on a server that is up)
    * ``viewer_video``: ``data = {"session_id", "state": "paused" | "playing", "reason":
      "bandwidth"}``: the layer rule paused one viewer's video because its link cannot carry
      the lowest layer (audio goes on), or resumed it (``playing`` once the first keyframe is on
      its way); only after a ``paused``, once per change (``sfu`` and ``janus`` modes with a
      simulcast publisher)
    """

    kind: EventKind
    livestream_id: int
    data: dict[str, Any] = field(default_factory=dict)


EventCallback = Callable[[MediaEvent], Awaitable[None]]


class MediaBackend(ABC):
    """One live-media implementation (``sfu``, ``p2p``...)."""

    mode: str

    @abstractmethod
    async def start(self) -> None:
        """Prepare the backend (called once at app start-up)."""

    @abstractmethod
    async def close(self) -> None:
        """End everything: peer connections, tasks, recordings, UDP ports."""

    @abstractmethod
    async def publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        """Accept a publisher's offer (WHIP POST).

        Raises 409 when a publisher exists and ``replace`` is false; with ``replace`` the old
        publisher is dropped and the viewers continue on the new one.
        """

    @abstractmethod
    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        """Accept a viewer's offer (WHEP POST). Raises 409 "not live" without a publisher."""

    @abstractmethod
    async def end_session(self, livestream_id: int, session_id: str) -> bool:
        """End one publisher or viewer session (WHIP/WHEP DELETE). False when unknown."""

    @abstractmethod
    async def end_show(self, livestream_id: int) -> None:
        """The show stopped: end the publisher and all viewers, finish the recording."""

    async def refresh(self, livestream_id: int) -> None:  # noqa: B027 - optional hook
        """Bring :meth:`is_live` and :meth:`stats` up to date with what other liveshop processes
        hold of the show (backends whose state is all in this process have nothing to do)."""

    def set_viewer_size(
        self, livestream_id: int, session_id: str, width: int | None, height: int | None
    ) -> bool:
        """The viewer ``session_id``'s player is ``width`` × ``height`` CSS pixels times the
        device pixel ratio (None: no limit, e.g. full screen); backends that pick a simulcast
        layer per viewer send none taller than it needs (False when they do not know the
        session); the others accept and ignore it (True)."""
        return True

    def set_viewer_playback(self, livestream_id: int, session_id: str, playback: Playback) -> bool:
        """What the viewer ``session_id``'s browser last counted of its playback; backends that
        list viewers' links in :meth:`stats` (``viewerLinks``) show it there (False when they
        do not know the session); the others accept and ignore it (True)."""
        return True

    @abstractmethod
    def is_live(self, livestream_id: int) -> bool:
        """True while a publisher is connected."""

    def health(self) -> dict[str, Any]:
        """``{"state": "ok" | "degraded", "instances": [{"url", "state": "up" | "down"}] (backends
        with several media servers), "recording": "ok" | "paused"}`` (paused: a recording waits
        for disk space)."""
        return {"state": "ok", "instances": [], "recording": "ok"}

    @abstractmethod
    def stats(self, livestream_id: int) -> dict[str, Any]:
        """``{"publisher": {bitrateKbps, fps, width, height, codec, packetsLost} | None,
        "viewers": int, "viewerRttMs": {"p50", "p95"}, "viewerLossPct": {"p50", "p95"}
        (percentiles over the viewers' reports; None while none is known), "viewerLinks":
        [{layer, paused, bandwidthKbps, rembKbps, loss, rttMs, switches}], "viewersPerLayer":
        {rid: count}}`` (see :func:`~liveshop.media.stats.media_stats`)."""

    def own_stats(self, livestream_id: int) -> dict[str, Any]:
        """:meth:`stats` of this process's share only (its own viewers, the publisher only if it
        publishes through this process), so that figures summed over processes (Prometheus
        ``livesum``) count each session once. Backends whose state is all in this process
        answer :meth:`stats`."""
        return self.stats(livestream_id)
