"""Quotas for one process: sliding windows in a dictionary."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from liveshop.quota.base import Quotas

MAX_KEYS = 200_000


class MemoryQuotas(Quotas):
    """Per-key deques of hit times. Atomic on one event loop (no await inside a hit)."""

    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _window(self, key: str, window: float, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= MAX_KEYS:
                self._sweep(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        """Drop keys without a hit in the last hour, then the oldest half if still full."""
        for key in [k for k, h in self._hits.items() if not h or h[-1] < now - 3600]:
            del self._hits[key]
        if len(self._hits) >= MAX_KEYS:
            for key in list(self._hits)[: MAX_KEYS // 2]:
                del self._hits[key]

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = self._clock()
        hits = self._window(key, window, now)
        if len(hits) >= limit:
            return max(0.001, hits[-limit] + window - now)
        hits.append(now)
        return 0.0

    async def count(self, key: str, window: float) -> int:
        return len(self._window(key, window, self._clock()))

    async def forget(self, key: str) -> None:
        self._hits.pop(key, None)
