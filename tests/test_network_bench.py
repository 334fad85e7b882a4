"""``bench.network``'s Chromium viewer measures what it says: presented frames at the layer's
width, glass-to-glass latency from the index drawn into each frame, and the browser's own
inbound video statistics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bench.chromium_viewer import ChromiumViewer, available

from tests.media.peers import simulcast_stage
from tests.medianet import CI
from tests.waiting import until

pytestmark = pytest.mark.browser


@pytest.fixture
async def playwright() -> AsyncIterator[Any]:
    why = available()
    if why:
        if CI:
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


async def test_the_chromium_viewer_reports_frames_latency_and_browser_stats(
    playwright: Any, tmp_path: Path
) -> None:
    """A Chromium viewer of the simulcast publisher reads frame indexes back (glass-to-glass under
    2 s), sees 640-wide frames once it has climbed, and reports the browser's decoded frames."""
    async with simulcast_stage(tmp_path) as (backend, ns, publisher):
        viewer = ChromiumViewer(ns, playwright, publisher.sent_at)
        try:
            await viewer.start(backend)
            await until(lambda: len(viewer.latencies) >= 30, timeout=30, message="30 frames read")
            await until(
                lambda: any(r["width"] == 640 for r in viewer.reports if r["frames"]),
                timeout=30,
                message="the top layer (after the climb from the start layer)",
            )
            start = time.monotonic()
            await until(lambda: viewer.stats and viewer.stats[-1][0] > start + 1, timeout=10)
            widths = {r["width"] for r in viewer.reports if r["frames"]}
            late = sorted(s for _, s in viewer.latencies)
            browser = viewer.stats_between(start - 30, time.monotonic())
        finally:
            await viewer.close()
    assert 640 in widths
    assert 0 < late[len(late) // 2] < 2.0
    assert browser is not None and browser["framesDecoded"] > 0
