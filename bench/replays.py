"""MP4 replays (run as ``python -m bench.replays``): what making a show's MP4 costs, and that it
never stalls the event loop.

A synthetic show (VP8 + Opus WebM, ``--seconds`` at ``--width``×``--height``, like the server's
recording) is, in the same run:

1. remuxed by stream copy into a seekable WebM (what every replay already gets: the reference);
2. rendered into the MP4 (H.264 + AAC, faststart) — reported as × real time and against (1);
3. rendered again, on a thread and then in a child process (what the app does), while the event
   loop ticks every 10 ms: the loop's lateness (p50 / p99 / max) against an idle loop.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import math
import statistics
import tempfile
import time
from array import array
from pathlib import Path

import av

from liveshop.replay.remux import remux
from liveshop.replay.rendition import render_in_subprocess, render_mp4

TICK = 0.010


def make_show(path: Path, seconds: float, width: int, height: int, fps: int = 30) -> Path:
    """A moving picture (so the encoder has work) and a tone, as a live WebM."""
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"deadline": "realtime", "cpu-used": "8"}
        video.bit_rate = 1_500_000
        video.codec_context.gop_size = fps
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for n, plane in enumerate(frame.planes):
                shade = (i * 3 + n * 50) % 256
                row = bytes((shade + x) % 256 for x in range(plane.line_size))
                plane.update(row * plane.height)
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
            aframe = av.AudioFrame(format="flt", layout="mono", samples=size)
            aframe.planes[0].update(tone.tobytes())
            aframe.sample_rate, aframe.pts = 48000, n * size
            aframe.time_base = fractions.Fraction(1, 48000)
            for packet in audio.encode(aframe):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path


async def ticker_lateness(seconds: float, work: asyncio.Future[object] | None) -> list[float]:
    """How late each 10 ms tick of the loop was (s), for ``seconds`` or until ``work`` is done."""
    loop = asyncio.get_running_loop()
    late: list[float] = []
    end = loop.time() + seconds
    while (work is None and loop.time() < end) or (work is not None and not work.done()):
        asked = loop.time()
        await asyncio.sleep(TICK)
        late.append(max(0.0, loop.time() - asked - TICK))
    return late


def summary(late: list[float]) -> tuple[float, float, float]:
    ordered = sorted(late) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


async def run(seconds: float, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        source = make_show(directory / "show.webm", seconds, width, height)

        started = time.perf_counter()
        remux(source, directory / "remuxed")
        remux_s = time.perf_counter() - started

        started = time.perf_counter()
        render_mp4([source], directory / "a.mp4")
        render_s = time.perf_counter() - started

        idle = await ticker_lateness(min(render_s, 5.0), None)
        lateness = {}
        for name, render in (
            ("while it renders on a thread", render_mp4),
            ("while it renders in a child (used)", render_in_subprocess),
        ):
            work = asyncio.ensure_future(
                asyncio.to_thread(render, [source], directory / "b.mp4", lambda _f: None)
            )
            lateness[name] = await ticker_lateness(0, work)
            await work

    print(f"show: {seconds:.0f} s of {width}x{height} VP8 + Opus\n")
    print(f"{'step':<34}{'wall s':>9}{'x real time':>13}")
    print(f"{'remux to seekable WebM (reference)':<34}{remux_s:>9.2f}{seconds / remux_s:>13.1f}")
    print(f"{'MP4 rendition (H.264 + AAC)':<34}{render_s:>9.2f}{seconds / render_s:>13.1f}")
    print(f"\nMP4 / remux: {render_s / remux_s:.1f}x the time of the stream copy\n")
    print(f"{'event loop, 10 ms ticks':<38}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, late in (("idle (reference)", idle), *lateness.items()):
        p50, p99, worst = summary(late)
        print(f"{name:<38}{p50:>9.2f}{p99:>9.2f}{worst:>9.2f}")
    for name, late in lateness.items():
        ratio = summary(late)[1] / max(summary(idle)[1], 0.01)
        print(f"p99 lateness {name} / idle: {ratio:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args(argv)
    asyncio.run(run(args.seconds, args.width, args.height))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
