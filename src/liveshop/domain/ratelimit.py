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
