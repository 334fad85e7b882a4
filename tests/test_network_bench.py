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

from liveshop.media import create_media_backend
from liveshop.media.netns import Namespace
from liveshop.media.sfu import SfuMediaBackend
from liveshop.media.synthetic_simulcast import SimulcastPublisher
from tests.media.peers import Events
from tests.medianet import CI, media_addresses, require_netns
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
    """A Chromium viewer of the simulcast publisher sees 640-wide frames, reads their indexes
    back (glass-to-glass under 2 s), and reports the browser's decoded-frame count."""
    require_netns()
    with Namespace() as ns, media_addresses(ns.near):
        events = Events()
        backend = create_media_backend(
            "sfu", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=events
        )
        assert isinstance(backend, SfuMediaBackend)
        await backend.start()
        publisher = SimulcastPublisher()
        viewer = ChromiumViewer(ns, playwright, publisher.sent_at)
        try:
            await publisher.start(backend)
            await events.wait("publisher_connected", limit=20)
            await viewer.start(backend)
            await until(lambda: len(viewer.latencies) >= 30, timeout=30, message="30 frames read")
            start = time.monotonic()
            await until(lambda: viewer.stats and viewer.stats[-1][0] > start + 1, timeout=10)
            widths = {r["width"] for r in viewer.reports if r["frames"]}
            late = sorted(s for _, s in viewer.latencies)
            browser = viewer.stats_between(start - 30, time.monotonic())
        finally:
            await viewer.close()
            await publisher.close()
            await backend.close()
    assert 640 in widths
    assert 0 < late[len(late) // 2] < 2.0
    assert browser is not None and browser["framesDecoded"] > 0
