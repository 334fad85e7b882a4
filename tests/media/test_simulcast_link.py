"""A viewer behind a constrained link (its own network namespace, ``tc tbf`` on the server's
side of its veth) follows the link down a simulcast layer and back up, in sfu mode."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveshop.media.netns import Namespace
from liveshop.media.probe_viewer import ProbeViewer
from liveshop.media.sfu import SfuMediaBackend
from tests.media.peers import simulcast_stage
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


def tc(*args: str, check: bool = True) -> None:
    subprocess.run(["tc", "qdisc", *args], check=check, capture_output=True, timeout=10)


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[tuple[SfuMediaBackend, Namespace]]:
    async with simulcast_stage(tmp_path) as (backend, ns, _publisher):
        yield backend, ns


async def observe(seconds: float) -> None:
    """Let the link run for ``seconds`` (a measurement window, not a synchronisation)."""
    start = time.monotonic()
    await until(lambda: time.monotonic() - start >= seconds, timeout=seconds + 5)


async def test_layer_follows_a_constrained_link_down_and_back_up(
    stage: tuple[SfuMediaBackend, Namespace],
) -> None:
    """At 400 kb/s the viewer leaves the 640-wide layer within 4 s and mostly plays a lower one
    at ≥ 8 fps; once the limit is lifted it is back on 640 within 40 s and stays there."""
    backend, ns = stage
    viewer = ProbeViewer(ns)
    await viewer.start(backend)
    sink = backend.rooms[1].viewers[viewer.session_id].sinks["video"]
    try:
        await until(lambda: viewer.width() == 640, timeout=30, message="the top layer")
        tc("add", "dev", ns.near_dev, "root", "tbf", "rate", "400kbit", "burst", "20kb",
           "latency", "300ms")  # fmt: skip
        limited = time.monotonic()
        await until(
            lambda: sink.layer is not None and sink.layer.rid != "f",
            timeout=10,
            message="a switch down",
        )
        down_s = time.monotonic() - limited
        await until(lambda: 0 < viewer.width() < 640, timeout=15, message="low-layer frames")
        settled = time.monotonic()
        await observe(12)
        window = [r for r in viewer.reports if r["t"] >= settled and r["frames"]]
        low_share = sum(r["width"] < 640 for r in window) / max(1, len(window))
        low_fps = viewer.fps(settled)
        tc("del", "dev", ns.near_dev, "root")
        lifted = time.monotonic()
        await until(lambda: viewer.width() == 640, timeout=40, message="the top layer again")
        up_s = time.monotonic() - lifted
        stable = time.monotonic()
        await observe(3)
        after = [r["width"] for r in viewer.reports if r["t"] >= stable and r["frames"]]
        print(
            f"switch down {down_s:.1f} s; at 400 kb/s {low_fps:.1f} fps, {low_share:.0%} of the "
            f"time below 640; back on 640 {up_s:.1f} s after the limit was lifted ({sink.switches} "
            "switches)"
        )
        assert down_s <= 4.0
        assert low_share >= 0.6
        assert low_fps >= 8  # the publisher sends 15 fps
        assert after and set(after) == {640}
    finally:
        tc("del", "dev", ns.near_dev, "root", check=False)
        await viewer.close()


async def test_video_pauses_below_the_lowest_layer_and_resumes(
    stage: tuple[SfuMediaBackend, Namespace],
) -> None:
    """At 64 kb/s (under the lowest layer) video pauses while audio keeps playing; once the
    limit is lifted video comes back by itself."""
    backend, ns = stage
    viewer = ProbeViewer(ns)
    await viewer.start(backend)
    sink = backend.rooms[1].viewers[viewer.session_id].sinks["video"]
    try:
        await until(lambda: viewer.width() == 640, timeout=30, message="the top layer")
        tc("add", "dev", ns.near_dev, "root", "tbf", "rate", "64kbit", "burst", "8kb",
           "latency", "300ms")  # fmt: skip
        await until(lambda: sink.selector.paused, timeout=25, message="video paused")
        paused = time.monotonic()
        await until(lambda: time.monotonic() - paused > 2 and len(viewer.reports) > 0)
        heard = sum(r["audio"] for r in viewer.reports if r["t"] >= paused)
        tc("del", "dev", ns.near_dev, "root")
        lifted = time.monotonic()
        await until(
            lambda: any(r["frames"] for r in viewer.reports if r["t"] > lifted + 1),
            timeout=40,
            message="video again",
        )
        print(f"paused; {heard} audio frames in 2 s; video back {time.monotonic() - lifted:.1f} s")
        assert heard >= 20  # 20 ms Opus frames: at least 40 % of them while video is paused
        assert backend.stats(1)["viewersPerLayer"] != {"paused": 1}
    finally:
        tc("del", "dev", ns.near_dev, "root", check=False)
        await viewer.close()
