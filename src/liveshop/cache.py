"""A small read cache for hot, read-mostly JSON answers (the active show, the catalogue).

Entries live at most ``ttl`` seconds; writers call ``invalidate`` for their group, and the app relays
invalidations between processes over the broker, so a write is visible everywhere at once and a
missed relay heals within ``ttl``.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class ResponseCache:
    """Maps (group, key) → encoded body. Not thread-safe; one per event loop."""

    def __init__(self, ttl: float = 2.0, max_entries: int = 512) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()
        self._generation: dict[str, int] = {}

    def generation(self, group: str) -> int:
        """Bumped by every invalidation of ``group``; a filler checks it did not change meanwhile."""
        return self._generation.get(group, 0)

    def get(self, group: str, key: str) -> bytes | None:
        entry = self._entries.get((group, key))
        if entry is None:
            return None
        expires, body = entry
        if expires < time.monotonic():
            del self._entries[(group, key)]
            return None
        return body

    def put(self, group: str, key: str, body: bytes, generation: int) -> None:
        """Store ``body`` unless ``group`` was invalidated since ``generation`` was read."""
        if self.generation(group) != generation:
            return
        self._entries[(group, key)] = (time.monotonic() + self.ttl, body)
        self._entries.move_to_end((group, key))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, *groups: str) -> None:
        for group in groups:
            self._generation[group] = self.generation(group) + 1
            for key in [k for k in self._entries if k[0] == group]:
                del self._entries[key]
