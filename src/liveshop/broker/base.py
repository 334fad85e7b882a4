"""The broker seam: publish/subscribe by topic, and presence (who watches which show).

Topics are plain strings: ``"global"`` (every socket of every process) and ``"show:{id}"``.
Messages are already-encoded frames (bytes); the broker never looks inside them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

Handler = Callable[[bytes], None]
State = Literal["ok", "degraded"]
StateListener = Callable[[State], None]

GLOBAL = "global"
PRESENCE_TTL_SECONDS = 10.0


def show_topic(livestream_id: int) -> str:
    return f"show:{livestream_id}"


class BrokerUnavailable(Exception):
    """The shared broker cannot be reached right now (presence cannot be read or written)."""


class Subscription(ABC):
    """A live subscription; ``close()`` stops delivery (idempotent)."""

    @abstractmethod
    async def close(self) -> None: ...


class Broker(ABC):
    """Delivers published messages to every subscriber of the topic, in every process.

    Guarantees: messages published by one publisher on one topic are delivered to each subscriber
    in publish order; handlers are called on the subscriber's event loop and must not block.
    Delivery is at-most-once (a process that is down misses messages; clients resync on join).

    While a shared broker is unreachable (:attr:`state` ``"degraded"``), :meth:`publish` still
    delivers to this process's own subscribers and never raises; presence calls raise
    :class:`BrokerUnavailable`. Listeners added with :meth:`watch` hear each change of state, so
    the hub can catch up from the database and republish its presence once the broker is back.
    """

    name: str = "broker"
    state: State = "ok"
    # True when other processes publish on the same topics: a message one of them stored may
    # then reach this process late or never (it stopped between commit and publish), so the hub
    # checks the database for chat it has not passed on (hub.chat_sweep)
    shared: bool = False

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once by the app's lifespan."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect and stop every subscription."""

    @abstractmethod
    async def publish(self, topic: str, message: bytes) -> None:
        """Send ``message`` to every subscriber of ``topic`` (including this process)."""

    @abstractmethod
    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Call ``handler(message)`` for each message published on ``topic`` from now on."""

    @abstractmethod
    async def set_presence(self, livestream_id: int, node_id: str, identities: set[str]) -> None:
        """Replace what ``node_id`` reports as watching the show. Entries expire after
        :data:`PRESENCE_TTL_SECONDS` unless refreshed, so a dead process's viewers leave the count."""

    @abstractmethod
    async def presence_count(self, livestream_id: int) -> int:
        """Distinct identities watching the show, over every live node."""

    async def ping(self) -> bool:
        """True when the broker is reachable."""
        return True

    def watch(self, listener: StateListener) -> None:  # noqa: B027 - optional hook
        """Call ``listener(state)`` on the event loop each time :attr:`state` changes (after a
        reconnection, once every subscription is back). The in-process broker never changes."""
