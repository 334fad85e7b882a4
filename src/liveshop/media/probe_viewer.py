"""An aiortc viewer process for link tests and ``bench.network``, run inside a viewer's own
network namespace (``python -m liveshop.media.probe_viewer``); not used by the service.

Protocol on stdio, one JSON object per line: it writes ``{"offer": sdp}``, reads
``{"answer": sdp}``, then writes ``{"t": monotonic, "frames": n, "width": w, "audio": a}``
about every 0.25 s (video frames decoded since the last line, width of the last one, audio
frames decoded, ``times``: when each video frame was decoded) until stdin closes. Its
video jitter buffer is 32 packets (see ``aiortc_internals.set_jitter_capacity``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from liveshop.media import aiortc_internals as internals
from liveshop.media.base import MediaBackend
from liveshop.media.netns import Namespace

JITTER_PACKETS = 32  # see aiortc_internals.set_jitter_capacity


class ProbeViewer:
    """This module run as a process inside ``ns`` (the parent's side): its reports, in order."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.reports: list[dict[str, Any]] = []
        self.noise: list[bytes] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.session_id = ""
        self.reader: asyncio.Task[None] | None = None
        self.started = 0.0

    async def start(self, backend: MediaBackend, livestream_id: int = 1) -> None:
        """Start the process, pass its offer to ``backend.watch`` and the answer back."""
        self.started = time.monotonic()
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        self.proc = await asyncio.create_subprocess_exec(
            *self.ns.command(sys.executable, "-m", "liveshop.media.probe_viewer"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        offer = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 30))["offer"]
        session = await backend.watch(livestream_id, offer)
        self.session_id = session.session_id
        self.proc.stdin.write(json.dumps({"answer": session.answer_sdp}).encode() + b"\n")
        await self.proc.stdin.drain()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            try:
                self.reports.append(json.loads(line))
            except ValueError:
                self.noise.append(line)

    def width(self) -> int:
        """The width of the last frame decoded in the last second (0: none)."""
        recent = [r for r in self.reports[-4:] if r["frames"]]
        return recent[-1]["width"] if recent else 0

    def fps(self, since: float) -> float:
        """Frames decoded per second since ``since`` (monotonic)."""
        window = [r for r in self.reports if r["t"] >= since]
        span = window[-1]["t"] - window[0]["t"] if len(window) > 1 else 0.0
        return sum(r["frames"] for r in window[1:]) / span if span else 0.0

    async def close(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.reader is not None:
            self.reader.cancel()


async def main() -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    tracks: dict[str, asyncio.Future[Any]] = {
        "video": asyncio.get_running_loop().create_future(),
        "audio": asyncio.get_running_loop().create_future(),
    }
    pc.on("track", lambda track: tracks[track.kind].set_result(track))
    await pc.setLocalDescription(await pc.createOffer())
    print(json.dumps({"offer": pc.localDescription.sdp}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    answer = json.loads(await reader.readline())["answer"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    track = await tracks["video"]
    audio = await tracks["audio"]
    counts = {"frames": 0, "width": 0, "audio": 0}
    times: list[float] = []
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            internals.set_jitter_capacity(transceiver.receiver, JITTER_PACKETS)

    async def decode() -> None:
        while True:
            frame = await track.recv()
            counts["frames"] += 1
            counts["width"] = frame.width
            times.append(time.monotonic())

    async def hear() -> None:
        while True:
            await audio.recv()
            counts["audio"] += 1

    async def report() -> None:
        while True:
            await asyncio.sleep(0.25)
            print(json.dumps({"t": time.monotonic(), **counts, "times": times}), flush=True)
            times.clear()
            counts["frames"] = 0
            counts["audio"] = 0

    tasks = [asyncio.ensure_future(x) for x in (decode(), hear(), report())]
    await reader.read()  # until the test closes stdin
    for task in tasks:
        task.cancel()
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
