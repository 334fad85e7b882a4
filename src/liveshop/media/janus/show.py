"""What one liveshop process holds of a show in ``janus`` mode (the rest is in the placement)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .instances import Instance
from .monitor import Monitor


@dataclass(eq=False)
class Publisher:
    """A publisher this process drives: its VideoRoom handle on the origin and its monitor."""

    session_id: str
    instance: Instance
    handle: int
    feed: int
    codec: str
    streams: list[dict[str, Any]]
    layers: list[str] = field(default_factory=list)  # simulcast: RID of substream 0, 1, 2
    connected: bool = False
    closed: bool = False
    monitor: Monitor | None = None
    starting: asyncio.Task[None] | None = None


@dataclass(eq=False)
class Viewer:
    """A viewer this process placed: its subscriber handle on some instance."""

    session_id: str
    instance: Instance
    handle: int
    closed: bool = False


@dataclass(eq=False)
class Room:
    """What this process holds of a show (the rest is in the :class:`Placement`)."""

    livestream_id: int
    publisher: Publisher | None = None  # when this process drives it
    viewers: dict[str, Viewer] = field(default_factory=dict)  # this process's viewers
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def janus_room(self) -> int:
        """The VideoRoom room id of the show on every instance."""
        return self.livestream_id


@dataclass
class Others:
    """What the other processes hold of a show, as of the last ``refresh``."""

    live: bool = False
    publisher: dict[str, Any] | None = None  # the stats their publisher reported
    viewers: int = 0
