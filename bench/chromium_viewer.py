"""A Chromium viewer for ``bench.network``: Debian's Chromium (Playwright) inside a viewer's own
network namespace, watching through an ``RTCPeerConnection`` made on a blank page.

It reports what the browser itself measures, as a shopper's watch page would play it: every
presented frame (``requestVideoFrameCallback``: when, its width, and the index
:func:`liveshop.media.synthetic.draw_frame` drew into it, read back from a canvas, which gives
glass-to-glass latency against the publisher's ``sent_at``), and the inbound video's
``getStats`` (``freezeCount``, ``totalFreezesDuration``, ``framesDecoded``, ``frameWidth``,
``nackCount``, jitter buffer delay). Its reports have the shape of
:class:`liveshop.media.probe_viewer.ProbeViewer`'s (``t``, ``frames``, ``width``, ``times``) so
the benchmark measures both kinds alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from liveshop.media.base import MediaBackend
from liveshop.media.netns import Namespace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [  # every Chromium the tests and benchmarks start gets these (tests/browser too)
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ARGS = [
    *CHROMIUM_ARGS,
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",  # raw host candidates, as the server's
]

# The page: a receive-only peer connection (video, and audio unless told not to), a <video>
# playing it, a frame callback that reads each frame's drawn index (16 bits in blocks: see
# liveshop.media.synthetic._layout's rule).
SETUP_JS = """async (audio) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  if (audio) pc.addTransceiver('audio', {direction: 'recvonly'});
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  video.width = 640; video.height = 360;
  document.body.appendChild(video);
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); video.srcObject = stream; video.play(); };
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  window.__frames = [];
  const onFrame = (now, meta) => {
    const w = meta.width, h = meta.height;
    let index = -1;
    if (w >= 128 && h >= 32) {
      canvas.width = w; canvas.height = h;
      ctx.drawImage(video, 0, 0, w, h);
      const block = Math.max(16, Math.floor(w / 16)), perRow = 8;
      const img = ctx.getImageData(0, 0, block * perRow, block * 2).data;
      index = 0;
      for (let bit = 0; bit < 16; bit++) {
        const x = (bit % perRow) * block + (block >> 1);
        const y = Math.floor(bit / perRow) * block + (block >> 1);
        if (img[(y * block * perRow + x) * 4] > 128) index |= 1 << bit;
      }
    }
    window.__frames.push([performance.timeOrigin + meta.presentationTime, w, index]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  window.__pc = pc;
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
  });
  return pc.localDescription.sdp;
}"""

ANSWER_JS = "async (sdp) => { await window.__pc.setRemoteDescription({type: 'answer', sdp}); }"

POLL_JS = """async () => {
  const frames = window.__frames; window.__frames = [];
  let inbound = null, audio = null;
  (await window.__pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
    if (s.type === 'inbound-rtp' && s.kind === 'audio') audio = s;
  });
  return {frames, stats: inbound && {
    framesDecoded: inbound.framesDecoded || 0, frameWidth: inbound.frameWidth || 0,
    freezeCount: inbound.freezeCount || 0, totalFreezesDuration: inbound.totalFreezesDuration || 0,
    nackCount: inbound.nackCount || 0, packetsLost: inbound.packetsLost || 0,
    jitterBufferDelay: inbound.jitterBufferDelay || 0,
    jitterBufferEmittedCount: inbound.jitterBufferEmittedCount || 0,
    jitterBufferTargetDelay: inbound.jitterBufferTargetDelay || 0,
    jitterBufferMinimumDelay: inbound.jitterBufferMinimumDelay || 0,
    audioJitterBufferDelay: (audio && audio.jitterBufferDelay) || 0,
    audioJitterBufferEmittedCount: (audio && audio.jitterBufferEmittedCount) || 0}};
}"""


def available() -> str | None:
    """Why Chromium viewers cannot run here (None: they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (`make chromium` installs Debian's chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (`make .venv/.installed`)"
    return None


class SentTimes(Protocol):
    """When the publisher began encoding each frame (wall clock), by the index it draws."""

    def get(self, index: int, /) -> float | None: ...


class ChromiumViewer:
    """One Chromium in ``ns`` watching through ``backend.watch``; ``reports`` as ProbeViewer's,
    ``stats`` the browser's inbound video statistics over time, ``latencies`` (presented at,
    glass-to-glass seconds) per frame whose index could be read."""

    def __init__(
        self, ns: Namespace, playwright: Any, sent_at: SentTimes, audio: bool = True
    ) -> None:
        self.ns = ns
        self.audio = audio  # False: video only, so no lip sync holds the picture back
        self.playwright = playwright
        self.sent_at = sent_at
        self.reports: list[dict[str, Any]] = []
        self.stats: list[tuple[float, dict[str, Any]]] = []
        self.latencies: list[tuple[float, float]] = []
        self.session_id = ""
        self.started = 0.0
        self.browser: Any = None
        self.page: Any = None
        self.poller: asyncio.Task[None] | None = None
        self.scratch = tempfile.TemporaryDirectory()

    async def start(self, backend: MediaBackend, livestream_id: int = 1) -> None:
        """Launch Chromium in the namespace, pass its offer to ``backend.watch``, start polling."""
        self.started = time.monotonic()
        wrapper = Path(self.scratch.name) / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec {" ".join(self.ns.command(str(CHROMIUM)))} "$@"\n')
        wrapper.chmod(0o755)
        self.browser = await self.playwright.chromium.launch(
            executable_path=str(wrapper), args=ARGS
        )
        self.page = await self.browser.new_page()
        offer = await self.page.evaluate(SETUP_JS, self.audio)
        session = await backend.watch(livestream_id, offer)
        self.session_id = session.session_id
        await self.page.evaluate(ANSWER_JS, session.answer_sdp)
        self.poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        offset = time.time() - time.monotonic()  # the browser's times are wall-clock
        while True:
            await asyncio.sleep(0.25)
            try:
                got = await self.page.evaluate(POLL_JS)
            except Exception:  # the page went away: the run is ending
                return
            now = time.monotonic()
            times, width = [], 0
            for wall_ms, frame_width, index in got["frames"]:
                at = wall_ms / 1000 - offset
                times.append(at)
                width = frame_width
                sent = self.sent_at.get(index) if index >= 0 else None
                if sent is not None:
                    self.latencies.append((at, wall_ms / 1000 - sent))
            self.reports.append({"t": now, "frames": len(times), "width": width, "times": times})
            if got["stats"]:
                self.stats.append((now, got["stats"]))

    def stats_between(self, start: float, end: float) -> dict[str, float] | None:
        """The change of the browser's counters over [start, end] (None: no samples)."""
        inside = [s for t, s in self.stats if start <= t <= end]
        before = [s for t, s in self.stats if t < start]
        if not inside:
            return None
        first, last = (before[-1] if before else inside[0]), inside[-1]
        keys = ("framesDecoded", "freezeCount", "totalFreezesDuration", "nackCount")
        delta = {k: float(last[k] - first[k]) for k in keys}
        emitted = last["jitterBufferEmittedCount"] - first["jitterBufferEmittedCount"]
        waited = last["jitterBufferDelay"] - first["jitterBufferDelay"]
        delta["jitterBufferMs"] = 1000 * waited / emitted if emitted else 0.0
        target = last["jitterBufferTargetDelay"] - first["jitterBufferTargetDelay"]
        minimum = last["jitterBufferMinimumDelay"] - first["jitterBufferMinimumDelay"]
        delta["targetMs"] = 1000 * target / emitted if emitted else 0.0
        delta["minimumMs"] = 1000 * minimum / emitted if emitted else 0.0
        heard = last["audioJitterBufferEmittedCount"] - first["audioJitterBufferEmittedCount"]
        held = last["audioJitterBufferDelay"] - first["audioJitterBufferDelay"]
        delta["audioMs"] = 1000 * held / heard if heard else 0.0
        return delta

    async def close(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller
        if self.browser is not None:
            with contextlib.suppress(Exception):
                await self.browser.close()
        self.scratch.cleanup()
