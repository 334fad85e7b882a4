"""RTP payloads for one encoded video frame, per codec: what a sender puts after the RTP header
(used by the tests' simulcast publisher, :mod:`liveshop.media.synthetic_simulcast`).

VP8 follows RFC 7741 (a 15-bit picture id on every packet). H.264 follows RFC 6184 with
packetization-mode=1: the encoder's Annex B byte stream is split into NAL units; runs of small
parameter-set / SEI units (SPS, PPS, SEI, as an encoder puts before an IDR picture) travel
together in one STAP-A, a slice that fits travels alone (single NAL unit packet) and a larger one
is cut into FU-A fragments. A frame's last payload is the one the sender marks (M bit).
"""

from __future__ import annotations

import re
import struct

PACKET_MAX = 1200  # payload bytes per packet

_START_CODE = re.compile(b"\x00\x00\x01")
_STAP_A, _FU_A = 24, 28
_VCL = range(1, 6)  # coded slice NAL unit types (5: IDR)


def vp8_payloads(frame: bytes, picture_id: int, size: int = PACKET_MAX) -> list[bytes]:
    """RFC 7741 payloads: X=1, S on the first, I=1 with a 15-bit picture id."""
    out = []
    pid = struct.pack("!H", 0x8000 | (picture_id & 0x7FFF))
    for pos in range(0, len(frame), size):
        start = 0x10 if pos == 0 else 0
        out.append(bytes([0x80 | start, 0x80]) + pid + frame[pos : pos + size])
    return out


def annexb_nals(stream: bytes) -> list[bytes]:
    """The NAL units of an H.264 Annex B byte stream (3- or 4-byte start codes removed)."""
    starts = [m.end() for m in _START_CODE.finditer(stream)]
    nals = []
    for n, begin in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(stream)
        nal = stream[begin:end].rstrip(b"\x00")  # a 4-byte start code's leading zero
        if nal:
            nals.append(nal)
    return nals


def h264_payloads(stream: bytes, size: int = PACKET_MAX) -> list[bytes]:
    """RFC 6184 (packetization-mode=1) payloads for one access unit in Annex B form."""
    out: list[bytes] = []
    group: list[bytes] = []  # non-slice units waiting to travel together

    def flush() -> None:
        if len(group) == 1:
            out.append(group[0])
        elif group:
            nri = max(nal[0] & 0x60 for nal in group)
            out.append(
                bytes([nri | _STAP_A])
                + b"".join(struct.pack("!H", len(nal)) + nal for nal in group)
            )
        group.clear()

    for nal in annexb_nals(stream):
        if nal[0] & 0x1F not in _VCL:
            stap = 1 + sum(2 + len(x) for x in group) + 2 + len(nal)
            if stap > size:
                flush()
            if 1 + 2 + len(nal) <= size:
                group.append(nal)
                continue
        flush()
        out.extend(_h264_single_or_fragments(nal, size))
    flush()
    return out


def _h264_single_or_fragments(nal: bytes, size: int) -> list[bytes]:
    if len(nal) <= size:
        return [nal]
    indicator = (nal[0] & 0xE0) | _FU_A
    kind = nal[0] & 0x1F
    body = nal[1:]
    chunk = size - 2
    out = []
    for pos in range(0, len(body), chunk):
        start = 0x80 if pos == 0 else 0
        end = 0x40 if pos + chunk >= len(body) else 0
        out.append(bytes([indicator, start | end | kind]) + body[pos : pos + chunk])
    return out
