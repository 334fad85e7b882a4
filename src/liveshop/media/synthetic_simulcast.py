"""A simulcast publisher for the tests and ``bench.network``: aiortc signalling, three VP8 (or
H.264) layers encoded here (not used by the service).

aiortc cannot send simulcast, so this peer offers one ``sendonly`` video section with
``a=rid:f/h/q send`` and ``a=simulcast:send f;h;q`` (as a browser does with three
``sendEncodings``), and sends each layer itself: its own SSRC, the RID header extension on
every packet, encoded at the layer's own size and bitrate (CBR) with PyAV (VP8: libvpx; H.264:
libx264, constrained baseline, zerolatency) and packetized by :mod:`.packetize`, frames
drawn by :func:`~liveshop.media.synthetic.draw_frame` (they carry their index); like a browser,
every packet also carries the MID extension when the answer accepts it (Janus learns a simulcast
layer's SSRC from the MID and RID extensions together), and each layer sends an RTCP sender
report every second pairing a frame's RTP timestamp with its capture time, as a browser does. A PLI or FIR for a layer's SSRC makes
that layer's next frame a keyframe (H.264: an IDR picture after its SPS and PPS), or the one
:attr:`~SimulcastPublisher.keyframe_delay` frames later; ``sent_at`` keeps when each frame's
encoding began (wall clock, for glass-to-glass latency). Audio is quiet noise (it costs what
speech does), Opus at ``audio_bps`` (default 32 kb/s, what browsers send; aiortc alone sends
96 kb/s). With
``simulcast=False`` it is an ordinary one-layer publisher of its first layer (the reference).
``bench.media`` passes ``encoded`` (frames encoded up front, so its CPU goes to forwarding) and
publishes through its own link to the server (anything with :meth:`Publishes.publish`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import random
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RtcpPsfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
)

from liveshop.media import aiortc_internals as internals
from liveshop.media.base import MediaSession
from liveshop.media.idletrack import IdleTrack
from liveshop.media.packetize import h264_payloads, vp8_payloads
from liveshop.media.rtputil import H264, VP8
from liveshop.media.synthetic import NoiseAudioTrack, answer, draw_frame

RID_ID, RRID_ID = 10, 11
SR_INTERVAL_S = 1.0  # a sender report per layer this often, as browsers send them
NTP_EPOCH_S = 2_208_988_800  # 1900 to 1970


@dataclass
class SimLayer:
    rid: str
    width: int
    height: int
    bitrate: int
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    seq: int = field(default_factory=lambda: random.randint(0, 0xFFFF))
    picture_id: int = field(default_factory=lambda: random.randint(0, 0x7FFF))
    codec: Any = None
    want_key: bool = True
    key_wait: int = 0  # frames still to encode before the keyframe asked for
    keyframes: int = 0
    packets: int = 0  # sent, for its sender reports
    octets: int = 0


def default_layers() -> list[SimLayer]:
    return [
        SimLayer("f", 640, 360, 900_000),
        SimLayer("h", 320, 180, 250_000),
        SimLayer("q", 160, 90, 80_000),
    ]


def simulcast_offer(sdp: str, rids: list[str]) -> str:
    """``sdp`` with its video section offering ``rids`` as simulcast (and the RID extensions)."""
    lines = sdp.split("\r\n")
    out: list[str] = []
    inside = False
    extra = [
        f"a=extmap:{RID_ID} urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        f"a=extmap:{RRID_ID} urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
        *[f"a=rid:{rid} send" for rid in rids],
        "a=simulcast:send " + ";".join(rids),
    ]
    for line in lines:
        if line.startswith("m="):
            if inside:
                out.extend(extra)
            inside = line.startswith("m=video")
        elif inside and (line.startswith("a=ssrc") or line == ""):
            if line == "":
                out.extend(extra)
                inside = False
            else:
                continue  # simulcast offers identify layers by RID, not by signalled SSRCs
        out.append(line)
    return "\r\n".join(out)


def _mid_extension(section: str) -> tuple[int, bytes] | None:
    """The MID header extension id and the mid of an answer's video section, if it has both."""
    ext = re.search(r"a=extmap:(\d+)(?:/\w+)? urn:ietf:params:rtp-hdrext:sdes:mid", section)
    mid = re.search(r"a=mid:(\S+)", section)
    if ext is None or mid is None or not 0 < int(ext.group(1)) < 15:
        return None
    return int(ext.group(1)), mid.group(1).encode()


class Publishes(Protocol):
    """Where the publisher's offer goes: a :class:`~liveshop.media.base.MediaBackend`."""

    async def publish(self, livestream_id: int, offer_sdp: str) -> MediaSession: ...


class SimulcastPublisher:
    """Publishes ``layers`` (default f 640×360 900 kb/s, h 320×180 250 kb/s, q 160×90 80 kb/s).

    ``encoded(layer, index)``, when given, is the layer's frame ``index`` already encoded (VP8);
    it replaces the encoder here (and PLIs then change nothing)."""

    def __init__(
        self,
        layers: list[SimLayer] | None = None,
        fps: int = 15,
        noise: int = 48,
        simulcast: bool = True,
        audio_bps: int = 32_000,
        codec: str = VP8,
        encoded: Callable[[SimLayer, int], bytes] | None = None,
    ):
        self.encoded = encoded
        if codec not in (VP8, H264):
            raise ValueError(f"codec must be {VP8} or {H264}, not {codec!r}")
        self.codec = codec
        self.simulcast = simulcast
        self.layers = (layers or default_layers())[: None if simulcast else 1]
        self.fps = fps
        # frames encoded between a keyframe request and the keyframe (0: the next frame is one,
        # as in a browser on loopback; more: what a viewer sees over a longer round trip)
        self.keyframe_delay = 0
        # the offset of its wall clock (in its sender reports), as a seller's machine whose
        # clock is off: receivers care only how its streams' clocks relate to each other
        self.clock_offset_s = 0.0
        self.noise = noise
        self.pc = RTCPeerConnection()
        self.transceiver = self.pc.addTransceiver(IdleTrack("video"), direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video").codecs
        self.transceiver.setCodecPreferences([c for c in caps if c.name == codec])
        audio = self.pc.addTransceiver(NoiseAudioTrack(), direction="sendonly")
        internals.set_opus_bitrate(audio.sender, audio_bps)  # a browser's rate, not aiortc's 96k
        self.pt = 0
        self.count = 0
        self.sent_at: dict[int, float] = {}  # frame index -> wall time its encoding began
        self.task: asyncio.Task[None] | None = None
        self.answer_sdp = ""
        self.mid_ext: tuple[int, bytes] | None = None  # the answer's MID extension id, our mid

    async def start(self, backend: Publishes, livestream_id: int = 1) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        if self.simulcast:
            offer = simulcast_offer(offer, [x.rid for x in self.layers])
        session = await backend.publish(livestream_id, offer)
        self.answer_sdp = session.answer_sdp
        await answer(self.pc, session.answer_sdp)
        video = [m for m in self.pc.remoteDescription.sdp.split("m=") if m.startswith("video")]
        self.pt = int(video[0].split("\r\n")[0].split()[3])
        self.mid_ext = _mid_extension(video[0])
        sender = self.transceiver.sender
        internals.route_rtcp_to(sender, [x.ssrc for x in self.layers])
        internals.tap_sender_rtcp(sender, self._on_rtcp)
        self.task = asyncio.ensure_future(self._run())
        return session.session_id

    async def _on_rtcp(self, packet: Any) -> bool:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            for layer in self.layers:
                if layer.ssrc == packet.media_ssrc and not layer.want_key:
                    layer.want_key, layer.key_wait = True, self.keyframe_delay
            return True
        return False

    def _open(self, layer: SimLayer) -> Any:
        """The layer's encoder: realtime, CBR at its bitrate, keyframes only when asked for."""
        rate = str(layer.bitrate)
        if self.codec == H264:
            codec = av.CodecContext.create("libx264", "w")
            codec.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "profile": "baseline",  # x264 sets constraint_set1: constrained baseline
                "forced-idr": "1",  # a requested keyframe is an IDR picture, not just an I one
                "x264-params": "scenecut=0",
                "maxrate": rate,
                "bufsize": rate,
            }
        else:
            codec = av.CodecContext.create("libvpx", "w")
            codec.options = {
                "deadline": "realtime",
                "cpu-used": "8",
                "lag-in-frames": "0",
                "minrate": rate,
                "maxrate": rate,
                "bufsize": rate,
                "undershoot-pct": "100",
            }
        codec.width, codec.height = layer.width, layer.height
        codec.bit_rate = layer.bitrate
        codec.pix_fmt = "yuv420p"
        codec.gop_size = 3000
        codec.time_base = fractions.Fraction(1, self.fps)
        codec.thread_count = 1
        return codec

    def _encode(self, layer: SimLayer, index: int) -> list[bytes]:
        if self.encoded is not None:
            data = self.encoded(layer, index)
            payloads = vp8_payloads(data, layer.picture_id) if data else []
            layer.picture_id = (layer.picture_id + 1) & 0x7FFF
            return payloads
        if layer.codec is None:
            layer.codec = self._open(layer)
        frame = draw_frame(index, layer.width, layer.height, min(self.noise, layer.width // 4))
        frame.pts = index
        frame.time_base = fractions.Fraction(1, self.fps)
        if layer.want_key and layer.key_wait > 0:
            layer.key_wait -= 1
        elif layer.want_key:
            frame.pict_type = av.video.frame.PictureType.I
            layer.want_key = False
            layer.keyframes += 1
        data = b"".join(bytes(p) for p in layer.codec.encode(frame))
        if self.codec == H264:
            return h264_payloads(data)
        payloads = vp8_payloads(data, layer.picture_id) if data else []
        layer.picture_id = (layer.picture_id + 1) & 0x7FFF
        return payloads

    def _encode_all(self, index: int) -> list[list[bytes]]:
        return [self._encode(layer, index) for layer in self.layers]

    async def _run(self) -> None:
        send = internals.rtp_sink(self.transceiver.sender)
        loop = asyncio.get_running_loop()
        start = loop.time()
        reported = start - SR_INTERVAL_S
        while True:
            index = self.count
            began = self.sent_at[index] = time.time()
            captured = loop.time()
            encoded = await asyncio.to_thread(self._encode_all, index)
            # the capture time, as a camera's: a frame encoded late (a busy CPU) is not
            # stamped as if on time, which receivers would take for a growing network delay
            ts = int((captured - start) * 90000)
            for layer, payloads in zip(self.layers, encoded, strict=True):
                ext_body = bytes([(RID_ID << 4) | (len(layer.rid) - 1)]) + layer.rid.encode()
                if self.mid_ext is not None:
                    ext_id, mid = self.mid_ext
                    ext_body += bytes([(ext_id << 4) | (len(mid) - 1)]) + mid
                ext_body += b"\x00" * (-len(ext_body) % 4)
                ext = struct.pack("!HH", 0xBEDE, len(ext_body) // 4) + ext_body
                first = 0x90
                if not self.simulcast:
                    ext, first = b"", 0x80
                for n, payload in enumerate(payloads):
                    marker = 0x80 if n == len(payloads) - 1 else 0
                    header = struct.pack(
                        "!BBHII",
                        first,
                        marker | self.pt,
                        layer.seq,
                        ts + layer.ssrc % 1000,
                        layer.ssrc,
                    )
                    layer.seq = (layer.seq + 1) & 0xFFFF
                    layer.packets += 1
                    layer.octets += len(payload)
                    with contextlib.suppress(ConnectionError):
                        await send(header + ext + payload)
            if captured - reported >= SR_INTERVAL_S:
                reported = captured
                ntp = int((began + self.clock_offset_s + NTP_EPOCH_S) * (1 << 32))
                for layer in self.layers:
                    report = RtcpSrPacket(
                        ssrc=layer.ssrc,
                        sender_info=RtcpSenderInfo(
                            ntp_timestamp=ntp,
                            rtp_timestamp=(ts + layer.ssrc % 1000) & 0xFFFFFFFF,
                            packet_count=layer.packets,
                            octet_count=layer.octets,
                        ),
                    )
                    with contextlib.suppress(ConnectionError):
                        await send(bytes(report))
            self.count += 1
            delay = start + self.count / self.fps - loop.time()
            await asyncio.sleep(max(0.0, delay))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.pc.close()
