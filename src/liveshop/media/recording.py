"""Server-side recording by stream copy: RTP → frames → WebM/Matroska, no transcoding.

The forwarder hands packets to :meth:`Recorder.put`, which never blocks (a bounded queue; when
the disk cannot keep up packets are dropped and counted). A writer thread reassembles frames
(VP8 / H.264 / Opus depacketization), muxes them with PyAV and, a few seconds in, decodes one
keyframe to write ``thumbnail.jpg``. Recording starts at the first complete video keyframe.

A write that fails (the disk is full or gone) ends the segment: the writer keeps what it wrote
(playable: live WebM / Matroska need no index), stops taking packets, and calls ``on_failed`` (from
its thread) so the backend can tell the seller and start a new segment once there is room.
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .diskspace import CHECK_INTERVAL, check_room
from .rtputil import H264, VP8, picture_size, vp8_descriptor_size

logger = logging.getLogger(__name__)

THUMBNAIL_AFTER_S = 3.0
QUEUE_LIMIT = 20_000
MS = Fraction(1, 1000)


@dataclass
class RecordingResult:
    path: Path | None
    thumbnail: Path | None
    duration: float
    segment: int
    codec: str
    dropped_packets: int


def segment_path(directory: Path, segment: int, video_codec: str) -> Path:
    ext = "mkv" if video_codec == H264 else "webm"
    name = "recording" if segment == 1 else f"recording-{segment}"
    return directory / f"{name}.{ext}"


def next_segment(directory: Path, after: int) -> int:
    """The first segment number above ``after`` with no file yet: a process restarted mid-show
    (or a show republished) appends a segment instead of overwriting one already kept."""
    segment = after + 1
    while any(segment_path(directory, segment, c).exists() for c in (VP8, H264)):
        segment += 1
    return segment


def depacketize(codec: str, payload: bytes) -> bytes:
    """Codec payload of one RTP packet (VP8 descriptor stripped; H.264 as Annex B)."""
    if codec == VP8:
        pos = vp8_descriptor_size(payload)
        return payload[pos:] if pos > 0 else b""
    if codec == H264:
        if not payload:
            return b""
        nal_type = payload[0] & 0x1F
        if nal_type == 24:  # STAP-A
            out = bytearray()
            pos = 1
            while pos + 2 <= len(payload):
                size = struct.unpack_from("!H", payload, pos)[0]
                out += b"\x00\x00\x00\x01" + payload[pos + 2 : pos + 2 + size]
                pos += 2 + size
            return bytes(out)
        if nal_type == 28:  # FU-A
            if len(payload) < 2:
                return b""
            if payload[1] & 0x80:
                header = bytes([(payload[0] & 0xE0) | (payload[1] & 0x1F)])
                return b"\x00\x00\x00\x01" + header + payload[2:]
            return payload[2:]
        return b"\x00\x00\x00\x01" + payload
    return payload


def is_keyframe(codec: str, frame: bytes) -> bool:
    if codec == VP8:
        return bool(frame) and not frame[0] & 0x01
    # H.264 Annex B: look for an IDR slice
    pos = frame.find(b"\x00\x00\x01")
    while pos >= 0 and pos + 3 < len(frame):
        if frame[pos + 3] & 0x1F == 5:
            return True
        pos = frame.find(b"\x00\x00\x01", pos + 3)
    return False


class _Assembler:
    """Collects the packets of one video frame (same RTP timestamp) in sequence order."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.ts: int | None = None
        self.parts: dict[int, bytes] = {}
        self.first_seq: int | None = None

    def add(self, seq: int, ts: int, marker: bool, payload: bytes) -> tuple[int, bytes] | None:
        done: tuple[int, bytes] | None = None
        if self.ts is not None and ts != self.ts:
            self._reset()  # frame without marker (loss): drop it
        if self.ts is None:
            self.ts = ts
        self.parts[seq] = payload
        if marker:
            done = self._complete()
            self._reset()
        return done

    def _complete(self) -> tuple[int, bytes] | None:
        assert self.ts is not None
        seqs = sorted(self.parts, key=lambda s: (s - min(self.parts)) & 0xFFFF)
        start = seqs[0]
        # a wrap-aware contiguity check
        if any((s - start) & 0xFFFF != i for i, s in enumerate(seqs)):
            return None
        first = self.parts[seqs[0]]
        if self.codec == VP8 and not (first and first[0] & 0x10):
            return None  # first packet of the frame was lost
        data = b"".join(depacketize(self.codec, self.parts[s]) for s in seqs)
        return (self.ts, data) if data else None

    def _reset(self) -> None:
        self.ts = None
        self.parts = {}


class _Unwrapper:
    def __init__(self) -> None:
        self.last: int | None = None
        self.offset = 0

    def __call__(self, ts: int) -> int:
        if self.last is not None:
            delta = (ts - self.last) & 0xFFFFFFFF
            if delta >= 0x80000000:  # older packet
                delta -= 1 << 32
            self.offset += delta
        else:
            self.offset = ts
        self.last = ts
        return self.offset


class Recorder:
    """Writes one recording segment from forwarded packets, on its own thread."""

    def __init__(
        self,
        directory: Path,
        segment: int,
        video_codec: str,
        with_audio: bool,
        thumbnail_after: float = THUMBNAIL_AFTER_S,
        on_failed: Callable[[OSError], None] | None = None,
    ) -> None:
        self.directory = directory
        self.on_failed = on_failed
        self.failed: OSError | None = None  # the write error that ended the segment
        self.segment = segment
        self.video_codec = video_codec
        self.with_audio = with_audio
        self.path = segment_path(directory, segment, video_codec)
        self.thumbnail_path = directory / "thumbnail.jpg"
        self.thumbnail_after = thumbnail_after
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, int, int, bool, bytes, float] | None] = queue.Queue(
            QUEUE_LIMIT
        )
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{directory.name}-{segment}", daemon=True
        )
        self._result: RecordingResult | None = None
        self._stopped = False
        self._thread.start()

    def put(self, kind: str, seq: int, ts: int, marker: bool, payload: bytes) -> None:
        """Queue one RTP packet; never blocks."""
        if self._stopped:
            return
        try:
            self._queue.put_nowait((kind, seq, ts, marker, payload, time.monotonic()))
        except queue.Full:
            self.dropped += 1

    def stop(self) -> None:
        """Ask the writer to finish; see :meth:`join`."""
        if not self._stopped:
            self._stopped = True
            while True:
                try:
                    self._queue.put(None, timeout=1)
                    break
                except queue.Full:  # pragma: no cover - the writer is far behind
                    continue

    def join(self) -> RecordingResult:
        """Block until the file is closed (call via ``asyncio.to_thread``)."""
        self.stop()
        self._thread.join()
        assert self._result is not None
        return self._result

    # writer thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        writer = _Writer(self)
        checked = 0.0
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                try:
                    if writer.container is not None and item[5] - checked >= CHECK_INTERVAL:
                        checked = item[5]
                        check_room(self.directory)  # stop before the disk is full
                    writer.packet(*item)
                except OSError as exc:  # disk full or gone: end the segment, keep what it has
                    self.failed = exc
                    self._stopped = True
                    logger.warning("recording %s stopped: %s", self.path, exc)
                    if self.on_failed is not None:
                        self.on_failed(exc)
                    break
                except Exception:  # keep recording after one bad packet
                    logger.exception("recording %s: packet failed", self.path)
        finally:
            self._result = writer.close()


class _Writer:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.codec = rec.video_codec
        self.assembler = _Assembler(rec.video_codec)
        self.container: Any = None
        self.vstream: Any = None
        self.astream: Any = None
        self.video_ts = _Unwrapper()
        self.audio_ts = _Unwrapper()
        self.start_wall = 0.0
        self.video_base: int | None = None
        self.audio_base: int | None = None
        self.audio_offset_ms = 0
        self.size: tuple[int, int] | None = None
        self.last_pts_ms = 0
        self.stream_pts: dict[int, int] = {}  # each stream's last timestamp (ms)
        self.first_key: bytes | None = None
        self.thumbnail_done = False

    def packet(
        self, kind: str, seq: int, ts: int, marker: bool, payload: bytes, arrival: float
    ) -> None:
        if kind == "video":
            if self.size is None:
                self.size = picture_size(self.codec, payload)
            frame = self.assembler.add(seq, ts, marker, payload)
            if frame is not None:
                self._video_frame(frame[0], frame[1], arrival)
        elif kind == "audio" and self.container is not None and self.astream is not None:
            ext = self.audio_ts(ts)
            if self.audio_base is None:
                self.audio_base = ext
                self.audio_offset_ms = int((arrival - self.start_wall) * 1000)
            pts = self.audio_offset_ms + (ext - self.audio_base) // 48
            self._mux(self.astream, payload, pts, False)

    def _video_frame(self, ts: int, data: bytes, arrival: float) -> None:
        key = is_keyframe(self.codec, data)
        ext = self.video_ts(ts)
        if self.container is None:
            if not key:
                return
            self._open(arrival)
            self.video_base = ext
        assert self.video_base is not None
        pts = (ext - self.video_base) // 90
        if pts < 0:
            return
        self._mux(self.vstream, data, pts, key)
        if key:
            if self.first_key is None:
                self.first_key = data
            if not self.thumbnail_done and pts >= self.rec.thumbnail_after * 1000:
                self.thumbnail_done = self._thumbnail(data)

    def _open(self, arrival: float) -> None:
        self.rec.directory.mkdir(parents=True, exist_ok=True)
        width, height = self.size or (640, 480)
        fmt = "matroska" if self.codec == H264 else "webm"
        self.container = av.open(str(self.rec.path), "w", format=fmt)
        self.vstream = self.container.add_mux_stream(
            "h264" if self.codec == H264 else "vp8", width=width, height=height
        )
        self.vstream.time_base = MS
        if self.rec.with_audio:
            self.astream = self.container.add_mux_stream("opus", rate=48000)
            self.astream.time_base = MS
        self.start_wall = arrival

    def _mux(self, stream: Any, data: bytes, pts: int, key: bool) -> None:
        if not data:
            return
        # a packet that arrives after a later one of its stream (a late frame, clock jitter
        # between the publisher's streams) keeps its data at the stream's last time: the
        # muxer refuses timestamps that go backwards, which would lose the packet
        pts = max(pts, self.stream_pts.get(stream.index, 0))
        self.stream_pts[stream.index] = pts
        packet = av.Packet(data)
        packet.stream = stream
        packet.time_base = MS
        packet.pts = packet.dts = pts
        packet.is_keyframe = key
        self.container.mux(packet)
        self.last_pts_ms = max(self.last_pts_ms, pts)

    def _thumbnail(self, data: bytes) -> bool:
        try:
            ctx = av.CodecContext.create("h264" if self.codec == H264 else "vp8", "r")
            frames = ctx.decode(av.Packet(data))
            if not frames:
                frames = ctx.decode(None)
            if not frames:
                return False
            tmp = self.rec.thumbnail_path.with_suffix(".tmp")
            image: Any = frames[0].to_image()  # type: ignore[no-untyped-call]
            image.save(tmp, format="JPEG", quality=85)
            tmp.replace(self.rec.thumbnail_path)
            return True
        except OSError as exc:  # no room for it: the recording matters more
            logger.warning("recording %s: no thumbnail: %s", self.rec.path, exc)
            return False
        except Exception:
            logger.exception("recording %s: thumbnail failed", self.rec.path)
            return False

    def close(self) -> RecordingResult:
        if self.assembler.parts:
            self.assembler._reset()
        path: Path | None = None
        if self.container is not None:
            if not self.thumbnail_done and self.first_key is not None:
                self.thumbnail_done = self._thumbnail(self.first_key)
            try:
                self.container.close()
                path = self.rec.path
            except Exception as exc:
                if self.rec.failed is None:
                    logger.exception("recording %s: close failed", self.rec.path)
                else:  # the disk is full: no index, but what was written plays
                    logger.warning("recording %s closed without its index: %s", self.rec.path, exc)
                if self.rec.failed is not None and self.rec.path.exists() and self.last_pts_ms:
                    path = self.rec.path
        return RecordingResult(
            path=path,
            thumbnail=self.rec.thumbnail_path if self.thumbnail_done else None,
            duration=self.last_pts_ms / 1000,
            segment=self.rec.segment,
            codec=self.codec,
            dropped_packets=self.rec.dropped,
        )
