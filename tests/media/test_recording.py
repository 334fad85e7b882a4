"""The recorder's writer: packets whose timestamps go backwards are kept, not refused."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import pytest

from liveshop.media.recording import Recorder


def vp8_keyframe() -> bytes:
    """One 64×64 VP8 keyframe, as libvpx encodes it."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 64, "yuv420p"
    codec.time_base = Fraction(1, 30)
    frame = av.VideoFrame(64, 64, "yuv420p")
    frame.pts = 0
    packets = [*codec.encode(frame), *codec.encode(None)]
    return bytes(packets[0])


def test_an_audio_packet_arriving_late_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An Opus packet older than the last one (timestamps going backwards) is written at the
    stream's last time: no "packet failed", every packet in the file."""
    recorder = Recorder(tmp_path, 1, "VP8", True, thumbnail_after=3600)
    key = b"\x10" + vp8_keyframe()  # VP8 payload descriptor: start of partition 0
    recorder.put("video", 1, 90_000, True, key)
    opus = b"\xf8\xff\xfe"  # a tiny Opus frame (the muxer does not decode it)
    for ts in (48_000, 48_960, 49_920, 48_960, 50_880):  # the fourth arrives late
        recorder.put("audio", 0, ts, True, opus)
    with caplog.at_level(logging.ERROR, logger="liveshop.media.recording"):
        result = recorder.join()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert result.path is not None
    with av.open(str(result.path)) as container:
        audio = [p for p in container.demux(audio=0) if p.size]
    assert len(audio) == 5
