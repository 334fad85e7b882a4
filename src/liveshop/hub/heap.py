"""Keep CPython's full garbage collections from stalling the fan-out.

Every socket brings about 150 long-lived, GC-tracked objects (uvicorn's protocol, the websockets
parser, queues, tasks, our connection). A full (generation 2) collection walks all of them with
the event loop stopped: measured while 7,500 viewers joined, a dozen passes growing to 0.9 s each
— every delivery in flight, and every join, waited that long.

:class:`HeapPolicy` moves the objects that survived a burst of joins into CPython's permanent
generation (``gc.freeze()``), which full collections skip: their cost then stays that of the new
objects (measured: the same 7,500 joins, no pass over 62 ms). The price is that cycles among frozen objects that die later (closed sockets) are not
reclaimed while frozen, so when the socket count falls to half of what it was when frozen, or
after :data:`MAX_FROZEN_S`, the heap is unfrozen and collected once (one pause, at most every ten
minutes), then frozen again as sockets keep coming.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

GROWTH = 500  # sockets more than at the last freeze before freezing again
MAX_FROZEN_S = 600.0


class HeapPolicy:
    """Told of every new socket and ticked once a second; not thread-safe (the hub's loop)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._frozen_at: float | None = None
        self._frozen_sockets = 0

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def grew(self, sockets: int) -> None:
        """A socket arrived: freeze once the count is :data:`GROWTH` past the last freeze. O(1)
        (a freeze splices the collector's lists; nothing is walked)."""
        if sockets >= self._frozen_sockets + GROWTH:
            gc.freeze()
            if self._frozen_at is None:
                self._frozen_at = self._clock()
            self._frozen_sockets = sockets

    def tick(self, sockets: int) -> None:
        """Once a second: unfreeze and collect once when the count halved since the last freeze
        or the heap has been frozen for :data:`MAX_FROZEN_S`."""
        if self._frozen_at is None:
            return
        if sockets * 2 <= self._frozen_sockets or self._clock() - self._frozen_at >= MAX_FROZEN_S:
            gc.unfreeze()
            gc.collect()
            self._frozen_at, self._frozen_sockets = None, 0
            self.grew(sockets)

    def close(self) -> None:
        """Give every frozen object back to the collector."""
        if self._frozen_at is not None:
            gc.unfreeze()
            self._frozen_at, self._frozen_sockets = None, 0
