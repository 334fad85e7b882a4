"""RTP helpers: keyframe detection, picture size, header rewriting, depacketization."""

from __future__ import annotations

import struct

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from liveshop.media.recording import depacketize, is_keyframe
from liveshop.media.rtputil import (
    Rewriter,
    extension_parts,
    h264_keyframe_start,
    h264_sps_size,
    mid_extension,
    rtx_packet,
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


def vp8_payload(picture_id: int, tl0: int) -> bytes:
    """A VP8 payload descriptor with a 15-bit picture id and TL0PICIDX, then two data bytes."""
    return bytes([0x90, 0xC0, 0x80 | picture_id >> 8, picture_id & 0xFF, tl0, 0x00, 0xAA, 0xBB])


def test_vp8_picture_id_continues_across_sources() -> None:
    """After a rebase onto another stream, picture ids and TL0PICIDX continue by one; the frame
    bytes are untouched."""
    rw = Rewriter(ssrc=1, pt=96, clock_rate=90000, ext=b"", vp8=True)
    rw.sync(100, 1000, now=0.0)
    first = rw.rewrite(1, 100, 1000, vp8_payload(0x1234, 7), 0.0)
    rw.rebase()
    rw.sync(5000, 77, now=0.1)
    second = rw.rewrite(1, 5000, 77, vp8_payload(0x0042, 200), 0.1)
    third = rw.rewrite(1, 5001, 3077, vp8_payload(0x0043, 201), 0.13)
    pics = [((p[14] & 0x7F) << 8) | p[15] for p in (first, second, third)]
    assert pics == [0x1234, 0x1235, 0x1236]
    assert [p[16] for p in (first, second, third)] == [7, 8, 9]
    assert all(p[-2:] == b"\xaa\xbb" for p in (first, second, third))


def test_packets_from_before_a_resync_are_recognised() -> None:
    """A late retransmission older than the packet a stream was synced at is flagged."""
    rw = Rewriter(ssrc=1, pt=96, clock_rate=90000, ext=b"")
    rw.sync(10, 0, now=0.0)
    assert rw.before_sync(9) and rw.before_sync(65530)
    assert not rw.before_sync(10) and not rw.before_sync(11)


def test_abs_send_time_rides_in_the_extension_block() -> None:
    """With abs-send-time the block holds the MID and the 24-bit time, padded to 32 bits."""
    head, tail = extension_parts(1, "0", 3)
    rw = Rewriter(ssrc=1, pt=96, clock_rate=90000, ext=head, ext_tail=tail, abs_time=True)
    rw.sync(1, 1, now=0.0)
    ntp = (5 << 32) | (1 << 31)  # 5.5 s
    packet = rw.rewrite(0, 1, 1, b"x", 0.0, ntp)
    words = struct.unpack_from("!HH", packet, 12)
    assert words == (0xBEDE, 2)
    block = packet[16 : 16 + 8]
    assert block[:2] == b"\x10" + b"0"
    assert block[2] == (3 << 4) | 2
    assert int.from_bytes(block[3:6], "big") == ((ntp >> 14) & 0xFFFFFF)
    assert block[6:] == b"\x00\x00" and packet[-1:] == b"x"


def test_rtx_packet_wraps_the_original_as_rfc_4588_says() -> None:
    """An RTX packet keeps marker, timestamp and extensions, takes the RTX PT/seq/SSRC and puts
    the original sequence number before the original payload."""
    rewriter = Rewriter(0x1234, 96, 90000, mid_extension(1, "0"))
    original = rewriter.rewrite(1, 500, 9000, b"payload", 0.0)
    rtx = rtx_packet(original, 97, 7, 0xABCD)
    first, second, seq, ts, ssrc = struct.unpack_from("!BBHII", rtx)
    assert (first, second, seq, ssrc) == (original[0], 0x80 | 97, 7, 0xABCD)
    assert ts == struct.unpack_from("!I", original, 4)[0]
    ext = mid_extension(1, "0")
    assert rtx[12 : 12 + len(ext)] == ext
    assert rtx[12 + len(ext) :] == original[2:4] + b"payload"


def test_padding_packet_is_padding_only_with_the_streams_extensions() -> None:
    """A padding packet parses as empty payload, 255 padding bytes, the RTX SSRC and abs-send-time."""
    head, tail = extension_parts(1, "0", 3)
    rw = Rewriter(1111, 96, 90000, head, ext_tail=tail, abs_time=True)
    rw.rewrite(0, 10, 3000, b"\x10\x00\x00", 0.0, ntp=0)
    extensions = HeaderExtensionsMap()
    uri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    extensions.configure(
        RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=3, uri=uri)])
    )
    packet = RtpPacket.parse(rw.padding(97, 5, 2222, 255, ntp=1 << 32), extensions)
    assert (packet.payload_type, packet.sequence_number, packet.ssrc) == (97, 5, 2222)
    assert packet.payload == b""
    assert packet.padding_size == 255
    assert packet.timestamp == rw.last_ts
    assert packet.extensions.abs_send_time == 1 << 18
