"""A WHEP-less aiortc viewer for link tests, run inside a viewer's own network namespace.

Protocol on stdio, one JSON object per line: it writes ``{"offer": sdp}``, reads
``{"answer": sdp}``, then writes ``{"t": monotonic, "frames": n, "width": w, "audio": a}``
about every 0.25 s (video frames decoded since the last line, width of the last one, audio
frames decoded) until stdin closes. Its
video jitter buffer is 32 packets (see ``aiortc_internals.set_jitter_capacity``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from liveshop.media import aiortc_internals as internals

JITTER_PACKETS = 32  # see aiortc_internals.set_jitter_capacity


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
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            internals.set_jitter_capacity(transceiver.receiver, JITTER_PACKETS)

    async def decode() -> None:
        while True:
            frame = await track.recv()  # type: ignore[attr-defined]
            counts["frames"] += 1
            counts["width"] = frame.width

    async def hear() -> None:
        while True:
            await audio.recv()
            counts["audio"] += 1

    async def report() -> None:
        while True:
            await asyncio.sleep(0.25)
            print(json.dumps({"t": time.monotonic(), **counts}), flush=True)
            counts["frames"] = 0
            counts["audio"] = 0

    tasks = [asyncio.ensure_future(x) for x in (decode(), hear(), report())]
    await reader.read()  # until the test closes stdin
    for task in tasks:
        task.cancel()
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
