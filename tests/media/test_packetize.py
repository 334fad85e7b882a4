"""The tests' RTP packetizers on their own: H.264 (RFC 6184) payloads checked against aiortc's
depacketizer, VP8 (RFC 7741) payload descriptors."""

from __future__ import annotations

from aiortc.codecs.h264 import H264PayloadDescriptor

from liveshop.media.packetize import PACKET_MAX, annexb_nals, h264_payloads, vp8_payloads
from liveshop.media.rtputil import h264_keyframe_start, h264_nal_types, vp8_keyframe_start


def body(size: int) -> bytes:
    """NAL unit payload bytes with no zero byte (so no start code can appear inside)."""
    return bytes(i % 251 + 1 for i in range(size))


SPS = bytes([0x67, 0x42, 0xC0, 0x1E]) + body(8)
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
SEI = bytes([0x06]) + body(600)
IDR = bytes([0x65]) + body(5000)
SLICE = bytes([0x41]) + body(700)


def annexb(*nals: bytes) -> bytes:
    """An Annex B stream with 4-byte start codes, except a 3-byte one before the last unit."""
    head = b"".join(b"\x00\x00\x00\x01" + nal for nal in nals[:-1])
    return head + b"\x00\x00\x01" + nals[-1]


def test_annexb_is_split_into_nal_units() -> None:
    """3- and 4-byte start codes are both removed and every unit comes back whole."""
    assert annexb_nals(annexb(SPS, PPS, IDR)) == [SPS, PPS, IDR]


def test_an_idr_access_unit_is_a_stap_a_then_fu_a_fragments() -> None:
    """SPS, PPS and SEI share one STAP-A, the large IDR slice is cut into FU-A fragments that
    fit the packet size, and aiortc's depacketizer gives back the same units."""
    payloads = h264_payloads(annexb(SPS, PPS, SEI, IDR))
    assert h264_nal_types(payloads[0]) == [7, 8, 6]
    assert h264_keyframe_start(payloads[0]) and h264_keyframe_start(payloads[1])
    assert all(len(p) <= PACKET_MAX for p in payloads)
    fragments = payloads[1:]
    assert all(p[0] & 0x1F == 28 for p in fragments)
    assert [bool(p[1] & 0x80) for p in fragments] == [True] + [False] * (len(fragments) - 1)
    assert [bool(p[1] & 0x40) for p in fragments] == [False] * (len(fragments) - 1) + [True]
    stream = b"".join(H264PayloadDescriptor.parse(p)[1] for p in payloads)
    assert annexb_nals(stream) == [SPS, PPS, SEI, IDR]


def test_a_small_slice_travels_alone() -> None:
    """A slice that fits one packet is a single NAL unit packet, unchanged."""
    assert h264_payloads(annexb(SLICE)) == [SLICE]


def test_vp8_payloads_carry_the_picture_id_and_start_bit() -> None:
    """Each VP8 payload has the 15-bit picture id; only the first has S=1."""
    frame = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]) + body(3000)  # keyframe header
    payloads = vp8_payloads(frame, 0x1234)
    assert [p[0] & 0x10 for p in payloads] == [0x10, 0, 0]
    assert all(p[2:4] == bytes([0x92, 0x34]) for p in payloads)
    assert vp8_keyframe_start(payloads[0]) and not vp8_keyframe_start(payloads[1])
    assert b"".join(p[4:] for p in payloads) == frame
