"""Small recordings made with PyAV for the replay tests: VP8 + Opus WebM, like the server's."""

from __future__ import annotations

import fractions
import math
from array import array
from pathlib import Path

import av
from PIL import Image


def make_show_webm(
    path: Path, seconds: float, *, colour: tuple[int, int, int] = (200, 40, 90), fps: int = 15
) -> Path:
    """``seconds`` of 320×240 VP8 (a keyframe a second) and a 440 Hz Opus tone."""
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"deadline": "realtime", "cpu-used": "8"}
        video.codec_context.gop_size = fps
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        for i in range(int(seconds * fps)):
            shade = (colour[0], (i * 8) % 255, colour[2])
            frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), shade))
            frame.pts = i
            frame.time_base = fractions.Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        size = 960
        for n in range(int(seconds * 48000) // size):
            tone = array(
                "f",
                (0.2 * math.sin(2 * math.pi * 440 * (n * size + k) / 48000) for k in range(size)),
            )
            frame = av.AudioFrame(format="flt", layout="mono", samples=size)
            frame.planes[0].update(tone.tobytes())
            frame.sample_rate = 48000
            frame.pts = n * size
            frame.time_base = fractions.Fraction(1, 48000)
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path
