"""The one way tests wait for something that is not an event they can await: poll a condition.

``await until(check)`` / ``until_sync(check)`` call ``check`` (sync or async) until it returns
something truthy, and return that; after ``timeout`` seconds they fail the test with ``message``.
Everything else waits on events (futures, queues, conditions), never on a sleep.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 10.0
INTERVAL = 0.05


async def until(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
    message: str = "condition",
) -> T:
    """``check()``'s first truthy result; AssertionError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(interval)


def until_sync(
    check: Callable[[], T],
    *,
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
    message: str = "condition",
) -> T:
    """Blocking :func:`until` for code outside an event loop (starting subprocesses)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
