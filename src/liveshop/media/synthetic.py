"""Synthetic media for tests and the benchmark: frames that carry their own index.

The index (16 bits) is drawn as a row of black/white blocks in the luma plane, big enough to
survive lossy encoding; :func:`read_index` reads it back from a decoded frame. Each frame's send
time is kept in :attr:`IndexedVideoTrack.sent_at` so a receiver can measure glass-to-glass
latency (publisher capture → viewer decode) on one machine.
"""

from __future__ import annotations

import os
import random
import struct
import time
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

BITS = 16
BLOCK = 16


def _layout(width: int) -> tuple[int, int]:
    """(block size, blocks per row) for a frame width."""
    block = max(BLOCK, width // (BITS // 2) // 2)
    return block, BITS // 2


def draw_frame(index: int, width: int, height: int, noise: int = 0) -> VideoFrame:
    """A yuv420p frame showing ``index`` as blocks; ``noise`` bytes of random texture per row
    make it expensive to encode (for realistic bitrates)."""
    frame = VideoFrame(width, height, "yuv420p")
    block, per_row = _layout(width)
    y_plane = frame.planes[0]
    stride = y_plane.line_size
    luma = bytearray(b"\x50" * (stride * height))
    if noise:
        rnd = os.urandom(noise * height)
        for row in range(height):
            start = row * stride + (width - noise)
            luma[start : start + noise] = rnd[row * noise : (row + 1) * noise]
    for bit in range(BITS):
        value = 0xEB if (index >> bit) & 1 else 0x10
        col, line = bit % per_row, bit // per_row
        x0, y0 = col * block, line * block
        for y in range(y0, min(y0 + block, height)):
            luma[y * stride + x0 : y * stride + x0 + block] = bytes([value]) * block
    y_plane.update(bytes(luma))
    for plane in frame.planes[1:]:
        plane.update(b"\x80" * (plane.line_size * plane.height))
    return frame


def read_index(frame: VideoFrame) -> int:
    """The index drawn by :func:`draw_frame` (sampled at block centres)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    block, per_row = _layout(frame.width)
    plane = frame.planes[0]
    data = bytes(plane)
    stride = plane.line_size
    index = 0
    for bit in range(BITS):
        col, line = bit % per_row, bit // per_row
        x = col * block + block // 2
        y = line * block + block // 2
        if data[y * stride + x] > 0x80:
            index |= 1 << bit
    return index


class IndexedVideoTrack(VideoStreamTrack):
    """A live video track whose frame ``n`` shows ``n``; ``sent_at[n]`` is its wall time."""

    def __init__(self, width: int = 320, height: int = 240, noise: int = 0) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.noise = noise
        self.count = 0
        self.sent_at: dict[int, float] = {}

    async def recv(self) -> Any:
        pts, time_base = await self.next_timestamp()
        index = self.count % (1 << BITS)
        frame = draw_frame(index, self.width, self.height, self.noise)
        frame.pts = pts
        frame.time_base = time_base
        self.sent_at[index] = time.time()
        self.count += 1
        return frame


class NoiseAudioTrack(AudioStreamTrack):
    """Live audio that costs an encoder what speech does: quiet noise (aiortc's own
    ``AudioStreamTrack`` is silence, which Opus sends in a few bytes per packet)."""

    def __init__(self) -> None:
        super().__init__()
        rnd = random.Random(7)
        second = [rnd.randint(-3000, 3000) for _ in range(48_000)]
        self.noise = struct.pack(f"<{len(second)}h", *second) * 2  # a slice may wrap around
        self.offset = 0

    async def recv(self) -> Any:
        frame = await super().recv()
        assert isinstance(frame, AudioFrame)
        size = len(bytes(frame.planes[0]))
        chunk = self.noise[self.offset : self.offset + size]
        self.offset = (self.offset + size) % (len(self.noise) // 2)
        frame.planes[0].update(chunk)
        return frame


async def offer(pc: RTCPeerConnection) -> str:
    """Create and apply a complete (non-trickle) offer; return its SDP."""
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    return sdp


async def answer(pc: RTCPeerConnection, sdp: str) -> None:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
