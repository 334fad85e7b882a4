"""Rate limits as pure state machines: the caller passes the clock, so rules are testable exactly."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up.

    ``take(now)`` returns 0.0 when a token was taken, else the seconds to wait for the next one.
    Not thread-safe; one bucket belongs to one event loop.
    """

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float) -> float:
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds.

    ``hit(now)`` records an event and returns 0.0 when it is within the limit, else the seconds until
    the oldest event leaves the window (the event is then not recorded).
    """

    limit: int
    window: float
    events: deque[float] = field(default_factory=deque)

    def _expire(self, now: float) -> None:
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()

    def retry_after(self, now: float) -> float:
        """Seconds until one more event would be allowed (0.0 when allowed now)."""
        self._expire(now)
        if len(self.events) < self.limit:
            return 0.0
        return max(0.0, self.events[0] + self.window - now)

    def hit(self, now: float) -> float:
        wait = self.retry_after(now)
        if wait == 0.0:
            self.events.append(now)
        return wait

    @property
    def empty(self) -> bool:
        return not self.events


class KeyedWindows:
    """One :class:`SlidingWindow` per key, forgetting keys whose windows are empty."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._windows: dict[str, SlidingWindow] = {}

    def retry_after(self, key: str, now: float) -> float:
        w = self._windows.get(key)
        return 0.0 if w is None else w.retry_after(now)

    def hit(self, key: str, now: float) -> float:
        w = self._windows.get(key)
        if w is None:
            if len(self._windows) >= self.max_keys:
                self._sweep(now)
            w = self._windows[key] = SlidingWindow(self.limit, self.window)
        return w.hit(now)

    def _sweep(self, now: float) -> None:
        for key in [
            k for k, w in self._windows.items() if w.retry_after(now) == 0.0 and not w.events
        ]:
            del self._windows[key]
        if len(self._windows) >= self.max_keys:  # still full: drop the oldest half
            for key in list(self._windows)[: self.max_keys // 2]:
                del self._windows[key]
