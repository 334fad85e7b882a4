"""PyAV work on kept recordings: stream-copy remux (duration + cues, so browsers can seek), probing
and thumbnails. Everything here is blocking: call it through ``asyncio.to_thread``."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

WEBM_VIDEO = {"vp8", "vp9", "av1"}
THUMBNAIL_WIDTH = 640


log = logging.getLogger(__name__)


class NotMedia(ValueError):
    """The file is not a WebM/Matroska recording PyAV can read."""


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can decode."""


def remux(source: Path, target_stem: Path) -> tuple[Path, float]:
    """Copy ``source``'s audio and video packets (no transcoding) into a new file with a duration
    and an index. WebM when the video codec allows it, else Matroska. Returns (path, seconds)."""
    try:
        inp = av.open(str(source))
    except (av.error.FFmpegError, OSError) as exc:
        # FFmpeg's message names the file: keep it in the log, never in an answer
        log.info("unreadable recording %s: %s", source, exc)
        raise NotMedia("not a readable WebM/Matroska file") from exc
    with inp:
        keep = [s for s in inp.streams if s.type in ("video", "audio")]
        if not any(s.type == "video" for s in keep):
            raise NotMedia("the recording has no video")
        video = next(s for s in keep if s.type == "video")
        webm = video.codec_context.name in WEBM_VIDEO
        target = target_stem.with_suffix(".webm" if webm else ".mkv")
        tmp = target.with_suffix(target.suffix + ".tmp")
        with av.open(str(tmp), "w", format="webm" if webm else "matroska") as out:
            mapping: dict[int, Any] = {s.index: out.add_stream_from_template(s) for s in keep}
            for packet in inp.demux(*keep):
                if packet.dts is None or packet.size == 0:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    tmp.replace(target)
    return target, probe_duration(target)


def probe_duration(path: Path) -> float:
    """Seconds of media in ``path`` (container duration, else the last packet's time)."""
    with av.open(str(path)) as container:
        if container.duration:
            return float(container.duration) / av.time_base
        last = 0.0
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
        return last


def thumbnail_from_video(path: Path, target: Path, at_seconds: float = 3.0) -> bool:
    """Write a JPEG of the first keyframe at or after ``at_seconds`` (else the first); decodes only
    keyframes. False when the file has no decodable video."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return False
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= at_seconds:
                break
        if chosen is None:
            return False
        image = chosen.to_image()  # type: ignore[no-untyped-call]
    _save_jpeg(image, target)
    return True


def image_to_jpeg(data: bytes, target: Path) -> tuple[int, int]:
    """Decode ``data`` (JPEG, PNG or WebP), re-encode it as a JPEG at ``target``; return its size.
    Raises :class:`NotAnImage` for anything else."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG", "WEBP"):
                raise NotAnImage(f"unsupported image format {image.format}")
            image.load()
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NotAnImage("not a JPEG, PNG or WebP image") from exc
    _save_jpeg(rgb, target)
    return rgb.size


def _save_jpeg(image: Image.Image, target: Path) -> None:
    if image.width > THUMBNAIL_WIDTH:
        image = image.resize((THUMBNAIL_WIDTH, round(image.height * THUMBNAIL_WIDTH / image.width)))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    image.convert("RGB").save(tmp, "JPEG", quality=85)
    tmp.replace(target)
