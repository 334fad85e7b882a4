"""RTP helpers: keyframe detection, picture size, header rewriting, depacketization."""

from __future__ import annotations

import struct

from liveshop.media.recording import depacketize, is_keyframe
from liveshop.media.rtputil import (
    Rewriter,
    h264_keyframe_start,
    h264_sps_size,
    mid_extension,
    vp8_keyframe_start,
    vp8_size,
)

# 1280x720 constrained-baseline SPS from libx264 (with emulation-prevention bytes)
SPS_720P = bytes.fromhex("6742c01fd9005005ba10000003001000000303c0f1832480")


def vp8_key_payload(width: int, height: int) -> bytes:
    descriptor = bytes([0x90, 0x80, 0x05])  # X, S, PID 0; I; picture id 5
    frame_tag = bytes([0x00, 0x00, 0x00])  # P bit clear: keyframe
    return descriptor + frame_tag + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"x"


def test_vp8_keyframe_and_size() -> None:
    """VP8 keyframes are detected and their size read from the header."""
    payload = vp8_key_payload(640, 360)
    assert vp8_keyframe_start(payload)
    assert vp8_size(payload) == (640, 360)
    inter = payload[:3] + b"\x01" + payload[4:]
    assert not vp8_keyframe_start(inter)
    assert not vp8_keyframe_start(b"\x80\x80\x05\x00")  # S bit clear
    assert depacketize("VP8", payload)[:3] == b"\x00\x00\x00"
    assert is_keyframe("VP8", depacketize("VP8", payload))


def test_h264_keyframe_and_sps() -> None:
    """H.264 IDR/SPS are detected and the SPS gives the size."""
    assert h264_sps_size(SPS_720P) == (1280, 720)
    stap = b"\x18" + struct.pack("!H", len(SPS_720P)) + SPS_720P + b"\x00\x02\x68\xce"
    assert h264_keyframe_start(stap)
    assert h264_keyframe_start(bytes([0x7C, 0x85]) + b"idr")  # FU-A start of an IDR slice
    assert not h264_keyframe_start(bytes([0x7C, 0x05]) + b"idr")  # FU-A continuation
    assert not h264_keyframe_start(b"\x41\x9a")  # non-IDR slice
    annexb = depacketize("H264", stap) + depacketize("H264", bytes([0x7C, 0x85]) + b"idr")
    assert annexb.startswith(b"\x00\x00\x00\x01\x67") and is_keyframe("H264", annexb)


def test_rewriter_keeps_payload_and_spacing() -> None:
    """Rewriting changes SSRC/PT/seq/timestamp only, keeping payload and spacing."""
    ext = mid_extension(3, "0")
    rewriter = Rewriter(ssrc=0x1234, pt=100, clock_rate=90000, ext=ext)
    rewriter.sync(65534, 4_000_000_000, now=0.0)
    out = [rewriter.rewrite(m, s, t, b"payload", 0.0) for m, s, t in ((0, 65534, 10), (1, 2, 3010))]
    first = struct.unpack("!BBHII", out[0][:12])
    second = struct.unpack("!BBHII", out[1][:12])
    assert first[0] == 0x90 and first[1] == 100 and second[1] == 0x80 | 100
    assert first[4] == second[4] == 0x1234
    assert (second[2] - first[2]) & 0xFFFF == 4  # 65534 -> 2 wraps, spacing kept
    assert (second[3] - first[3]) & 0xFFFFFFFF == 3000
    assert out[0].endswith(b"payload") and out[0][12 : 12 + len(ext)] == ext
    # a new source continues the numbering
    rewriter.rebase()
    rewriter.sync(7, 99, now=1.0)
    third = struct.unpack("!BBHII", rewriter.rewrite(1, 7, 99, b"p", 1.0)[:12])
    assert third[2] == (second[2] + 1) & 0xFFFF
    assert (third[3] - second[3]) & 0xFFFFFFFF == 90000
