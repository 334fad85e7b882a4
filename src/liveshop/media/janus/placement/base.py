"""Where the ``janus`` mode's shows and sessions are: the seam several liveshop processes share.

A :class:`Placement` holds what every liveshop process driving the same Janus instances must agree
on (the Janus side of it; the media itself never passes through here):

* per show: the publisher (its WHIP session id, the process that owns it, the origin instance, the
  VideoRoom feed id and streams, whether it is live, its last stats), see :class:`ShowRecord`;
  counters (feed ids, recording segments); the instances the show's room was created on; the
  remote copies of the publisher on other instances (:class:`RemoteRecord`), each created once
  under :meth:`Placement.lock`;
* per WHIP/WHEP session: which instance, Janus session and handle it is (:class:`SessionRecord`),
  so any process can hang it up (Janus accepts a ``detach`` on any session/handle id);
* per process: its :class:`Load` (subscribers and publishers per instance, viewers per show),
  which the others add up. A process that stops refreshing drops out after ``ttl`` seconds, with
  its sessions; a show whose owner dropped out is no longer live.

This module holds the records and the abstract class; the implementations are
:mod:`~liveshop.media.janus.placement.memory` and :mod:`~liveshop.media.janus.placement.redis`,
picked by :func:`~liveshop.media.janus.placement.factory.create_placement`.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

Counter = Literal["feed", "segment"]
PLACEMENT_TTL_S = 15.0  # a process's load and sessions expire this long after its last refresh
LOCK_TTL_S = 30.0  # a lock whose holder died is free again after this long


@dataclass
class ShowRecord:
    """The show's current publisher."""

    session_id: str  # the WHIP session id
    owner: str  # the process that drives the publisher's Janus handle
    origin: str  # the instance URL it publishes to
    feed: int  # its VideoRoom feed id
    codec: str = ""
    streams: list[dict[str, Any]] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)  # simulcast: RID of substream 0, 1, 2
    live: bool = False  # ICE/DTLS up (``webrtcup``)
    stats: dict[str, Any] | None = None  # the publisher stats, refreshed by the owner


@dataclass
class SessionRecord:
    """A WHIP or WHEP session: enough for any process to hang it up through Janus."""

    livestream_id: int
    kind: Literal["publisher", "viewer"]
    url: str  # the instance
    janus_session: int
    handle: int
    owner: str  # the process whose Janus session holds the handle


@dataclass
class RemoteRecord:
    """The publisher re-published on another instance (``add_remote_publisher``)."""

    feed: int
    remote_id: str


@dataclass
class Load:
    """Subscribers and publishers per instance URL, viewers per show."""

    subscribers: dict[str, int] = field(default_factory=dict)
    publishers: dict[str, int] = field(default_factory=dict)
    viewers: dict[int, int] = field(default_factory=dict)

    def add(self, other: Load) -> None:
        for mine, theirs in (
            (self.subscribers, other.subscribers),
            (self.publishers, other.publishers),
        ):
            for url, n in theirs.items():
                mine[url] = mine.get(url, 0) + n
        for show, n in other.viewers.items():
            self.viewers[show] = self.viewers.get(show, 0) + n


class Placement(ABC):
    """Shared placement state (see module doc). Every method is safe to call concurrently from
    several processes; records written by one process are read back equal by every other."""

    shared: bool = False  # True when other processes see the same state
    ttl: float = PLACEMENT_TTL_S  # report at least every ttl / 3 seconds
    errors: tuple[type[Exception], ...] = ()  # what a call raises when the store is unreachable

    def __init__(self, process_id: str | None = None) -> None:
        self.process_id = process_id or secrets.token_hex(6)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Drop this process's load and sessions, disconnect."""

    # load --------------------------------------------------------------------------------------

    @abstractmethod
    async def report(self, load: Load) -> None:
        """Replace this process's load and keep it (and its sessions) alive for ``ttl`` seconds."""

    @abstractmethod
    async def others(self) -> Load:
        """The load of every other live process, summed."""

    @abstractmethod
    async def alive(self, process_id: str) -> bool:
        """True while ``process_id`` keeps reporting (always True for this process)."""

    # shows -------------------------------------------------------------------------------------

    @abstractmethod
    async def next_number(self, livestream_id: int, counter: Counter) -> int:
        """1, 2, ... per show and counter, never the same twice (over every process): VideoRoom
        feed ids, recording segment numbers."""

    @abstractmethod
    async def set_show(self, livestream_id: int, record: ShowRecord) -> None:
        """Make ``record`` the show's publisher (callers hold ``lock(f"show:{id}")``)."""

    @abstractmethod
    async def get_show(self, livestream_id: int) -> ShowRecord | None:
        """The show's publisher, or None (none, or its owner stopped reporting)."""

    @abstractmethod
    async def update_show(self, livestream_id: int, session_id: str, **fields: Any) -> bool:
        """Set ``live`` / ``stats`` if the publisher is still ``session_id``; False otherwise."""

    @abstractmethod
    async def clear_show(self, livestream_id: int, session_id: str) -> bool:
        """Remove the publisher if it is still ``session_id``; False otherwise."""

    @abstractmethod
    async def forget_show(self, livestream_id: int) -> None:
        """Drop everything kept for the show but sessions (it ended)."""

    # rooms and remote copies -------------------------------------------------------------------

    @abstractmethod
    async def rooms(self, livestream_id: int) -> set[str]:
        """The instances the show's VideoRoom room was created on."""

    @abstractmethod
    async def add_room(self, livestream_id: int, url: str) -> None: ...

    @abstractmethod
    async def remove_room(self, livestream_id: int, url: str) -> None: ...

    @abstractmethod
    async def remotes(self, livestream_id: int) -> dict[str, RemoteRecord]:
        """The publisher's remote copies, by instance URL."""

    @abstractmethod
    async def set_remote(self, livestream_id: int, url: str, record: RemoteRecord) -> None: ...

    @abstractmethod
    async def remove_remote(self, livestream_id: int, url: str) -> None: ...

    # sessions ----------------------------------------------------------------------------------

    @abstractmethod
    async def add_session(self, session_id: str, record: SessionRecord) -> None:
        """Record a session of this process (``record.owner`` is this process)."""

    @abstractmethod
    async def find_session(self, session_id: str) -> SessionRecord | None:
        """A session of any live process, or None."""

    @abstractmethod
    async def remove_session(self, session_id: str) -> None:
        """Forget a session, whichever process recorded it (unknown ids are ignored)."""

    @abstractmethod
    async def show_sessions(self, livestream_id: int) -> dict[str, SessionRecord]:
        """Every live process's sessions of the show, by session id."""

    # locks -------------------------------------------------------------------------------------

    @abstractmethod
    def lock(self, name: str) -> AbstractLock:
        """A lock over every process (``async with``); a dead holder's lock expires."""


class AbstractLock(ABC):
    @abstractmethod
    async def __aenter__(self) -> None: ...

    @abstractmethod
    async def __aexit__(self, *exc: object) -> None: ...


def updatable_field(name: str) -> str:
    """``name`` when :meth:`Placement.update_show` may change it (``live``, ``stats``), else
    ValueError."""
    if name not in ("live", "stats"):
        raise ValueError(f"update_show cannot change {name!r}")
    return name
