"""RTP helpers for forwarding: keyframe detection, picture size, per-viewer header rewriting.

Nothing here touches aiortc internals; payload bytes are never modified.
"""

from __future__ import annotations

import random
import struct

_HEADER = struct.Struct("!BBHII")

VP8 = "VP8"
H264 = "H264"
OPUS = "opus"


def vp8_descriptor_size(payload: bytes) -> int:
    """Length of the VP8 payload descriptor (RFC 7741 §4.2), -1 when truncated."""
    if not payload:
        return -1
    pos = 1
    if payload[0] & 0x80:
        if len(payload) < 2:
            return -1
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id
            if len(payload) <= pos:
                return -1
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K
            pos += 1
    return pos if pos < len(payload) else -1


def vp8_keyframe_start(payload: bytes) -> bool:
    """True for the first packet of a VP8 keyframe (S=1, PID=0, P bit clear)."""
    if not payload or not payload[0] & 0x10 or payload[0] & 0x0F:
        return False
    pos = vp8_descriptor_size(payload)
    return pos > 0 and not payload[pos] & 0x01


def vp8_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) from the first packet of a VP8 keyframe."""
    if not vp8_keyframe_start(payload):
        return None
    pos = vp8_descriptor_size(payload)
    frame = payload[pos : pos + 10]
    if len(frame) < 10 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack_from("<HH", frame, 6)
    return width & 0x3FFF, height & 0x3FFF


def h264_nal_types(payload: bytes) -> list[int]:
    """NAL unit types carried by an RTP payload (single NAL, STAP-A, FU-A start only)."""
    if not payload:
        return []
    nal_type = payload[0] & 0x1F
    if nal_type == 24:  # STAP-A
        types = []
        pos = 1
        while pos + 2 < len(payload):
            size = struct.unpack_from("!H", payload, pos)[0]
            if size == 0 or pos + 2 + size > len(payload):
                break
            types.append(payload[pos + 2] & 0x1F)
            pos += 2 + size
        return types
    if nal_type == 28:  # FU-A
        if len(payload) > 1 and payload[1] & 0x80:
            return [payload[1] & 0x1F]
        return []
    return [nal_type]


def h264_keyframe_start(payload: bytes) -> bool:
    """True for a packet that starts an IDR access unit (SPS, or an IDR slice start)."""
    types = h264_nal_types(payload)
    return 7 in types or 5 in types


def h264_sps(payload: bytes) -> bytes | None:
    """The SPS NAL unit carried by this packet, if any."""
    nal_type = payload[0] & 0x1F if payload else 0
    if nal_type == 7:
        return payload
    if nal_type == 24:
        pos = 1
        while pos + 2 < len(payload):
            size = struct.unpack_from("!H", payload, pos)[0]
            nal = payload[pos + 2 : pos + 2 + size]
            if nal and nal[0] & 0x1F == 7:
                return nal
            pos += 2 + size
    return None


class _Bits:
    def __init__(self, data: bytes) -> None:
        # strip emulation prevention bytes (00 00 03)
        out = bytearray()
        zeros = 0
        for byte in data:
            if zeros >= 2 and byte == 3:
                zeros = 0
                continue
            out.append(byte)
            zeros = zeros + 1 if byte == 0 else 0
        self.data = bytes(out)
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]  # IndexError on truncated input
        value = (byte >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def h264_sps_size(sps: bytes) -> tuple[int, int] | None:
    """(width, height) from an H.264 SPS NAL unit (ITU-T H.264 §7.3.2.1.1)."""
    try:
        bits = _Bits(sps[1:])
        profile_idc = bits.bits(8)
        bits.bits(16)  # constraint flags + level
        bits.ue()  # sps id
        chroma_format_idc = 1
        if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
            chroma_format_idc = bits.ue()
            if chroma_format_idc == 3:
                bits.bit()
            bits.ue()
            bits.ue()
            bits.bit()
            if bits.bit():  # scaling matrix present
                for i in range(8 if chroma_format_idc != 3 else 12):
                    if bits.bit():
                        last, nxt = 8, 8
                        for _ in range(16 if i < 6 else 64):
                            if nxt:
                                nxt = (last + bits.se() + 256) % 256
                            last = nxt or last
        bits.ue()  # log2_max_frame_num
        poc_type = bits.ue()
        if poc_type == 0:
            bits.ue()
        elif poc_type == 1:
            bits.bit()
            bits.se()
            bits.se()
            for _ in range(bits.ue()):
                bits.se()
        bits.ue()  # max refs
        bits.bit()
        width_mbs = bits.ue() + 1
        height_map_units = bits.ue() + 1
        frame_mbs_only = bits.bit()
        if not frame_mbs_only:
            bits.bit()
        bits.bit()
        width = width_mbs * 16
        height = height_map_units * 16 * (2 - frame_mbs_only)
        if bits.bit():  # cropping
            left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
            crop_x = 2 if chroma_format_idc in (1, 2) else 1
            crop_y = (2 if chroma_format_idc == 1 else 1) * (2 - frame_mbs_only)
            width -= (left + right) * crop_x
            height -= (top + bottom) * crop_y
        return width, height
    except (IndexError, ValueError):
        return None


def keyframe_start(codec: str, payload: bytes) -> bool:
    if codec == VP8:
        return vp8_keyframe_start(payload)
    if codec == H264:
        return h264_keyframe_start(payload)
    return True


def picture_size(codec: str, payload: bytes) -> tuple[int, int] | None:
    if codec == VP8:
        return vp8_size(payload)
    if codec == H264:
        sps = h264_sps(payload)
        return h264_sps_size(sps) if sps else None
    return None


def mid_extension(ext_id: int | None, mid: str | None) -> bytes:
    """The RTP header extension block (RFC 8285 one-byte form) carrying the MID, or b""."""
    head, tail = extension_parts(ext_id, mid, None)
    return head + tail


def _mid_element(ext_id: int | None, mid: str | None) -> bytes:
    if not ext_id or not mid or not 1 <= ext_id <= 14:
        return b""
    value = mid.encode()[:16]
    return bytes([(ext_id << 4) | (len(value) - 1)]) + value


def playout_delay_element(ext_id: int, min_ms: int, max_ms: int) -> bytes:
    """The playout-delay header extension element (one-byte form; WebRTC's
    ``rtp-hdrext/playout-delay``: 12-bit minimum and maximum in 10 ms units) asking the receiver
    to keep between ``min_ms`` and ``max_ms`` of playout delay; empty for an unusable id."""
    if not 1 <= ext_id <= 14:
        return b""
    low, high = min(4095, max(0, min_ms // 10)), min(4095, max(0, max_ms // 10))
    return bytes([(ext_id << 4) | 2]) + ((low << 12) | max(low, high)).to_bytes(3, "big")


def extension_parts(
    mid_id: int | None, mid: str | None, abs_time_id: int | None, extra: bytes = b""
) -> tuple[bytes, bytes]:
    """The header extension block (RFC 8285 one-byte form) split around the 3-byte
    abs-send-time value: ``head + value + tail`` is the block (``head + tail`` without
    ``abs_time_id``); both empty when there is nothing to carry. ``extra``: more elements."""
    body = _mid_element(mid_id, mid) + extra
    if abs_time_id and 1 <= abs_time_id <= 14:
        body += bytes([(abs_time_id << 4) | 2])
        size = len(body) + 3
    elif not body:
        return b"", b""
    else:
        abs_time_id = None
        size = len(body)
    pad = -size % 4
    return struct.pack("!HH", 0xBEDE, (size + pad) // 4) + body, b"\x00" * pad


def rtx_packet(data: bytes, pt: int, seq: int, ssrc: int) -> bytes:
    """The RFC 4588 retransmission of the serialized RTP packet ``data``: payload type ``pt``,
    sequence number ``seq`` and SSRC ``ssrc`` of the RTX stream; marker, timestamp, CSRCs and
    header extensions as in ``data``; the payload is the original sequence number (2 bytes)
    followed by the original payload (any padding dropped)."""
    size = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        size += 4 + 4 * int.from_bytes(data[size + 2 : size + 4], "big")
    end = len(data) - (data[-1] if data[0] & 0x20 else 0)
    header = _HEADER.pack(
        data[0] & ~0x20 & 0xFF, (data[1] & 0x80) | pt, seq, int.from_bytes(data[4:8], "big"), ssrc
    )
    return header + data[12:size] + data[2:4] + data[size:end]


def abs_send_time(ntp: int) -> bytes:
    """The abs-send-time extension value (6.18 fixed-point seconds) of a 64-bit NTP time."""
    return ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")


class Rewriter:
    """Maps one incoming RTP stream onto one outgoing stream (SSRC, PT, sequence, timestamp).

    Sequence numbers and timestamps keep their spacing (an offset is added), so reordering and
    loss on the way in look the same on the way out. When the source changes (publisher
    reconnect, or another simulcast layer) :meth:`rebase` makes the next packet continue the
    outgoing numbering; with ``vp8`` the VP8 picture id and TL0PICIDX continue too (the payload
    descriptor is rewritten, the frame data never). With ``abs_time_id`` each packet carries the
    abs-send-time header extension (receivers need it to estimate bandwidth: REMB).
    """

    __slots__ = (
        "abs_time",
        "clock_rate",
        "ext",
        "ext_tail",
        "first_byte",
        "floor_seq",
        "last_pic",
        "last_seq",
        "last_tl0",
        "last_ts",
        "last_wall",
        "octets",
        "packets",
        "pic_off",
        "pt",
        "seq_off",
        "ssrc",
        "synced",
        "tl0_off",
        "ts_off",
        "vp8",
        "vp8_resync",
    )

    def __init__(
        self,
        ssrc: int,
        pt: int,
        clock_rate: int,
        ext: bytes,
        *,
        ext_tail: bytes = b"",
        abs_time: bool = False,
        vp8: bool = False,
    ) -> None:
        self.ssrc = ssrc
        self.pt = pt
        self.clock_rate = clock_rate
        self.abs_time = abs_time
        self.set_extensions(ext, ext_tail)
        self.synced = False
        self.seq_off = 0
        self.ts_off = 0
        self.floor_seq = 0
        self.last_seq: int | None = None
        self.last_ts = 0
        self.last_wall = 0.0
        self.packets = 0
        self.octets = 0
        self.vp8 = vp8
        self.vp8_resync = False
        self.pic_off = 0
        self.tl0_off = 0
        self.last_pic: int | None = None
        self.last_tl0: int | None = None

    def set_extensions(self, ext: bytes, ext_tail: bytes = b"") -> None:
        """Carry another header extension block from the next packet on (as in the constructor;
        the abs-send-time value still goes between ``ext`` and ``ext_tail`` when it did)."""
        self.abs_time = self.abs_time and bool(ext)
        self.ext = ext if self.abs_time else ext + ext_tail
        self.ext_tail = ext_tail if self.abs_time else b""
        self.first_byte = 0x90 if ext else 0x80

    def rebase(self) -> None:
        """The next packet comes from a new source; continue numbering from there."""
        self.synced = False

    def sync(self, seq: int, ts: int, now: float) -> None:
        if self.last_seq is None:
            self.seq_off = (random.randint(0, 0x7FFF) - seq) & 0xFFFF
            self.ts_off = (random.getrandbits(32) - ts) & 0xFFFFFFFF
        else:
            gap = max(1, int((now - self.last_wall) * self.clock_rate))
            self.seq_off = (self.last_seq + 1 - seq) & 0xFFFF
            self.ts_off = (self.last_ts + gap - ts) & 0xFFFFFFFF
        self.floor_seq = seq
        self.vp8_resync = True
        self.synced = True

    def before_sync(self, seq: int) -> bool:
        """True for a packet older than the one the stream was (re)synced at: it would reuse
        outgoing sequence numbers of the previous source (a late retransmission)."""
        return (seq - self.floor_seq) & 0xFFFF >= 0x8000

    def rewrite(
        self, marker: int, seq: int, ts: int, payload: bytes, now: float, ntp: int = 0
    ) -> bytes:
        out_seq = (seq + self.seq_off) & 0xFFFF
        out_ts = (ts + self.ts_off) & 0xFFFFFFFF
        self.last_seq = out_seq
        self.last_ts = out_ts
        self.last_wall = now
        self.packets += 1
        self.octets += len(payload)
        if self.vp8:
            payload = self._vp8(payload)
        header = _HEADER.pack(self.first_byte, (marker << 7) | self.pt, out_seq, out_ts, self.ssrc)
        if self.abs_time:
            return header + self.ext + abs_send_time(ntp) + self.ext_tail + payload
        return header + self.ext + payload

    def padding(self, pt: int, seq: int, ssrc: int, size: int, ntp: int = 0) -> bytes:
        """A padding-only packet (RFC 3550 §5.1, ``size`` bytes of padding, 1-255) on another
        stream of the same media section (the RTX stream: ``pt``, ``seq``, ``ssrc``), with this
        stream's header extensions and the last timestamp sent; a receiver drops it after
        counting it, so it adds only rate (bandwidth probing)."""
        size = max(1, min(255, size))
        header = _HEADER.pack(self.first_byte | 0x20, pt, seq, self.last_ts, ssrc)
        tail = bytes(size - 1) + bytes([size])
        if self.abs_time:
            return header + self.ext + abs_send_time(ntp) + self.ext_tail + tail
        return header + self.ext + tail

    def _vp8(self, payload: bytes) -> bytes:
        """Continue the picture id and TL0PICIDX across sources (RFC 7741 §4.2)."""
        if len(payload) < 3 or not payload[0] & 0x80:
            return payload
        ext = payload[1]
        pos = 2
        out: bytearray | None = None
        resync = self.vp8_resync
        self.vp8_resync = False
        if ext & 0x80:
            first = payload[pos]
            if first & 0x80:
                if len(payload) <= pos + 1:
                    return payload
                pic, mask, width = ((first & 0x7F) << 8) | payload[pos + 1], 0x7FFF, 2
            else:
                pic, mask, width = first & 0x7F, 0x7F, 1
            if resync:
                self.pic_off = 0 if self.last_pic is None else (self.last_pic + 1 - pic)
            new = (pic + self.pic_off) & mask
            self.last_pic = new
            if new != pic:
                out = bytearray(payload)
                if width == 2:
                    out[pos] = 0x80 | (new >> 8)
                    out[pos + 1] = new & 0xFF
                else:
                    out[pos] = new
            pos += width
        if ext & 0x40 and len(payload) > pos:
            tl0 = payload[pos]
            if resync:
                self.tl0_off = 0 if self.last_tl0 is None else (self.last_tl0 + 1 - tl0)
            new = (tl0 + self.tl0_off) & 0xFF
            self.last_tl0 = new
            if new != tl0:
                if out is None:
                    out = bytearray(payload)
                out[pos] = new
        return payload if out is None else bytes(out)
