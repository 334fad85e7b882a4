"""The MP4 rendition of a replay (H.264 + AAC, ``moov`` before ``mdat``) and clips cut from it.

A show's recorded files (one studio upload, or several parts / server segments) are decoded in
order and encoded into one MP4 whose picture size is the first file's: the parts follow each other
without gaps, and :class:`Part` says where each one starts in the MP4. A keyframe is forced every
second, so a clip cut at keyframes (stream copy, :func:`cut_clip`) is within a second of what was
asked. Everything here is blocking (PyAV): run it on a thread. :func:`render_in_subprocess` runs
:func:`render_mp4` in a child process (its thread only waits), so the encoder never competes with
the event loop for the GIL.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)

MS = Fraction(1, 1000)
RATE = 48_000
KEYFRAME_EVERY = 1.0  # seconds
MAX_SIDE = 1920


class RenditionError(RuntimeError):
    """The sources could not be read, or nothing in them could be encoded."""


class Cancelled(Exception):
    """The progress callback asked to stop (the app is shutting down)."""


@dataclass(frozen=True)
class Part:
    """One source file inside the MP4: from ``start`` for ``duration`` seconds."""

    start: float
    duration: float


def _even(n: int) -> int:
    return max(2, n - n % 2)


def _size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise RenditionError("a recording has no video")
        ctx = container.streams.video[0].codec_context
        width, height = int(ctx.width or 640), int(ctx.height or 480)
    scale = min(1.0, MAX_SIDE / max(width, height))
    return _even(round(width * scale)), _even(round(height * scale))


def _probe(path: Path) -> tuple[float, bool]:
    """(seconds, has audio) of one source."""
    with av.open(str(path)) as container:
        audio = bool(container.streams.audio)
        if container.duration:
            return float(container.duration) / av.time_base, audio
        last = 0.0
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
        return last, audio


class _Audio:
    """AAC at 48 kHz stereo whose samples are placed by time: gaps are filled with silence and
    overlaps dropped, so the audio stays in step with the picture across parts."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.stream = out.add_stream("aac", rate=RATE, layout="stereo")
        self.stream.bit_rate = 96_000
        self.written = 0  # samples handed to the encoder
        self.resampler: Any = None
        self.pending = [bytearray(), bytearray()]  # float32 samples per channel, not yet encoded

    def new_source(self) -> None:
        self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)

    def add(self, frame: Any, at: float) -> None:
        """Samples of ``frame`` starting at ``at`` seconds of the MP4."""
        for resampled in self.resampler.resample(frame):
            n = resampled.samples
            planes = [bytes(resampled.planes[c])[: n * 4] for c in range(2)]
            self._place(planes, round(at * RATE))
            at += n / RATE

    def silence_until(self, seconds: float) -> None:
        self._place([b"", b""], round(seconds * RATE))

    def _place(self, planes: list[bytes], position: int) -> None:
        end = self.written + len(self.pending[0]) // 4
        if position > end:
            for channel in self.pending:
                channel.extend(bytes(4 * (position - end)))
        elif position < end:
            planes = [p[4 * (end - position) :] for p in planes]
        for channel, data in zip(self.pending, planes, strict=True):
            channel.extend(data)
        self._encode(final=False)

    def _encode(self, *, final: bool) -> None:
        size = self.stream.codec_context.frame_size or 1024
        while len(self.pending[0]) >= 4 * size or (final and self.pending[0]):
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=size)
            for c, channel in enumerate(self.pending):
                chunk = bytes(channel[: 4 * size])
                del channel[: 4 * size]
                frame.planes[c].update(chunk + bytes(4 * size - len(chunk)))
            frame.sample_rate = RATE
            frame.pts = self.written
            frame.time_base = Fraction(1, RATE)
            self.written += size
            for packet in self.stream.encode(frame):
                self.out.mux(packet)

    def flush(self) -> None:
        self._encode(final=True)
        for packet in self.stream.encode(None):
            self.out.mux(packet)


def render_mp4(
    sources: list[Path],
    target: Path,
    on_progress: Callable[[float], None] = lambda _f: None,
) -> list[Part]:
    """Encode ``sources`` one after another into ``target`` (MP4, H.264 + AAC, faststart).

    ``on_progress(fraction)`` is called as it goes and may raise :class:`Cancelled`; then, as on
    any error, nothing is left at ``target``. Returns where each source landed in the MP4.
    """
    if not sources:
        raise RenditionError("nothing to render")
    try:
        probes = [_probe(p) for p in sources]
        width, height = _size(sources[0])
    except (av.error.FFmpegError, OSError) as exc:
        raise RenditionError(f"unreadable recording: {exc}") from exc
    total = sum(d for d, _a in probes) or 1.0
    with_audio = any(a for _d, a in probes)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    parts: list[Part] = []
    try:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            video = out.add_stream("libx264", rate=30)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.time_base = MS
            video.codec_context.time_base = MS
            video.codec_context.max_b_frames = 0  # cuts by stream copy start cleanly
            video.codec_context.gop_size = 600  # keyframes are forced every second instead
            video.options = {"preset": "veryfast", "crf": "26", "threads": "2"}
            audio = _Audio(out) if with_audio else None
            state = {"next_key": 0.0, "last_pts": -1}
            offset = 0.0
            for path in sources:
                end = _encode_source(path, out, video, audio, offset, state, total, on_progress)
                length = max(end - offset, 0.0)
                parts.append(Part(start=round(offset, 3), duration=round(length, 3)))
                offset = end
                if audio is not None:
                    audio.silence_until(offset)
            for packet in video.encode(None):
                out.mux(packet)
            if audio is not None:
                audio.flush()
        if state["last_pts"] < 0:
            raise RenditionError("no picture could be decoded")
        tmp.replace(target)
    except (av.error.FFmpegError, OSError) as exc:
        raise RenditionError(f"rendering failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    on_progress(1.0)
    return parts


def _child(sources: list[str], target: str, progress: Any, cancel: Any, conn: Any) -> None:
    """The child process of :func:`render_in_subprocess`: render, send the outcome."""
    parent = multiprocessing.parent_process()

    def report(fraction: float) -> None:
        if cancel.is_set() or (parent is not None and not parent.is_alive()):  # stop, or orphaned
            raise Cancelled
        progress.value = fraction

    try:
        placed = render_mp4([Path(s) for s in sources], Path(target), report)
        conn.send(("ok", [(p.start, p.duration) for p in placed]))
    except Cancelled:
        conn.send(("cancelled", None))
    except RenditionError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # anything PyAV raises: the parent marks the rendition failed
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def render_in_subprocess(
    sources: list[Path],
    target: Path,
    on_progress: Callable[[float], None] = lambda _f: None,
) -> list[Part]:
    """:func:`render_mp4` in a child process; this thread relays its progress every 0.2 s.
    ``on_progress`` raising :class:`Cancelled` stops the child (killed if it does not stop)."""
    methods = multiprocessing.get_all_start_methods()
    ctx: Any = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    progress = ctx.Value("d", 0.0)
    cancel = ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child,
        args=([str(s) for s in sources], str(target), progress, cancel, send),
        name="liveshop-rendition",
        daemon=True,
    )
    child.start()
    send.close()
    try:
        while True:
            if receive.poll(0.2):
                try:
                    kind, value = receive.recv()
                except EOFError:
                    raise RenditionError("the rendition process died") from None
                break
            if not child.is_alive() and not receive.poll(0):
                raise RenditionError("the rendition process died")
            try:
                on_progress(min(float(progress.value), 0.99))
            except Cancelled:
                cancel.set()
                raise
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
        receive.close()
    if kind == "cancelled":
        raise Cancelled
    if kind == "error":
        raise RenditionError(str(value))
    on_progress(1.0)
    return [Part(start=a, duration=b) for a, b in value]


def _encode_source(
    path: Path,
    out: Any,
    video: Any,
    audio: _Audio | None,
    offset: float,
    state: dict[str, Any],
    total: float,
    on_progress: Callable[[float], None],
) -> float:
    """Decode one source into the MP4 from ``offset`` seconds; return where it ends."""
    end = offset
    reported = -1.0
    with av.open(str(path)) as inp:
        streams = [s for s in (inp.streams.video[:1] + inp.streams.audio[:1])]
        vstream = inp.streams.video[0] if inp.streams.video else None
        astream = inp.streams.audio[0] if inp.streams.audio and audio is not None else None
        if astream is not None and audio is not None:
            audio.new_source()
        base: float | None = None
        for packet in inp.demux(*streams):
            if packet.stream is not vstream and packet.stream is not astream:
                continue
            decoded: list[Any] = list(packet.decode())
            for frame in decoded:
                if frame.time is None:
                    continue
                if base is None:
                    base = float(frame.time)
                at = offset + max(float(frame.time) - base, 0.0)
                if packet.stream is vstream:
                    end = max(end, at + 1 / 30)
                    _video_frame(out, video, frame, at, state)
                elif audio is not None:
                    audio.add(frame, at)
                    end = max(end, at + frame.samples / max(frame.sample_rate, 1))
                done = at / total
                if done - reported >= 0.01:
                    reported = done
                    on_progress(min(done, 0.99))
    return end


def _video_frame(out: Any, video: Any, frame: Any, at: float, state: dict[str, Any]) -> None:
    pts = round(at * 1000)
    if pts <= state["last_pts"]:
        return  # the encoder needs rising timestamps
    state["last_pts"] = pts
    picture = frame.reformat(width=video.width, height=video.height, format="yuv420p")
    picture.pts = pts
    picture.time_base = MS
    if at >= state["next_key"]:  # on a grid of whole seconds, so keyframes never drift apart
        picture.pict_type = av.video.frame.PictureType.I
        state["next_key"] = (math.floor(at / KEYFRAME_EVERY) + 1) * KEYFRAME_EVERY
    else:
        picture.pict_type = av.video.frame.PictureType.NONE
    for packet in video.encode(picture):
        out.mux(packet)


def cut_clip(source: Path, target: Path, start: float, end: float) -> tuple[float, float]:
    """Copy ``source`` (an MP4 from :func:`render_mp4`) from the keyframe nearest ``start`` to
    the keyframe (or the end of the file) nearest ``end`` into ``target`` (MP4, faststart),
    without re-encoding: with keyframes a second apart each end is within about half a second of
    what was asked, and the clip is never empty. Returns its (start, duration) in the source's
    seconds."""
    with av.open(str(source)) as inp:
        vstream = inp.streams.video[0]
        keys: list[float] = []
        packets: list[Any] = []
        last = 0.0
        for packet in inp.demux(*(inp.streams.video[:1] + inp.streams.audio[:1])):
            if packet.pts is None or packet.size == 0:
                continue
            t = float(packet.pts * packet.time_base)
            last = max(last, t)
            if packet.stream is vstream and packet.is_keyframe:
                keys.append(t)
            packets.append(packet)
        cut_start = min(keys or [0.0], key=lambda k: (abs(k - start), k))
        ends = [k for k in keys if k > cut_start] + [last + 0.001]  # a keyframe, or the end
        cut_end = min(ends, key=lambda k: (abs(k - end), k))
        if cut_end <= cut_start:
            raise RenditionError("the clip is empty")
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                mapping = {
                    s.index: out.add_stream_from_template(s)
                    for s in inp.streams.video[:1] + inp.streams.audio[:1]
                }
                for packet in packets:
                    t = float(packet.pts * packet.time_base)
                    if not cut_start - 1e-6 <= t < cut_end - 1e-6:
                        continue
                    shift = round(cut_start / packet.time_base)
                    packet.pts -= shift
                    if packet.dts is not None:
                        packet.dts -= shift
                    packet.stream = mapping[packet.stream.index]
                    out.mux(packet)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
    return round(cut_start, 3), round(cut_end - cut_start, 3)
