"""The quota seam: sliding-window counters by key, shared by every process of a shop.

A *quota* is (key, limit, window): at most ``limit`` hits of ``key`` in any ``window`` seconds.
Rules that an attacker could multiply by talking to several processes (log-in attempts, guest
tokens, registrations) keep their counts here, in memory for one process or in Redis for many.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class Quotas(ABC):
    """Sliding-window counters. ``hit`` is atomic: concurrent hits of one key, from one process or
    many, never let more than ``limit`` through."""

    name: str = "quotas"

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once by the app's lifespan."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect."""

    @abstractmethod
    async def hit(self, key: str, limit: int, window: float) -> float:
        """Count one hit of ``key`` if it is within the quota and return 0.0; otherwise count
        nothing and return the seconds until a hit would be allowed."""

    @abstractmethod
    async def count(self, key: str, window: float) -> int:
        """Hits of ``key`` in the last ``window`` seconds (counted, not refused)."""

    @abstractmethod
    async def forget(self, key: str) -> None:
        """Drop every hit of ``key`` (e.g. a successful log-in clears its failures)."""
