"""``bench.media``'s publisher process: its video, encoded up front, and the sample viewer.

Single-layer (``sfu``, ``relay``, Janus modes): one 720p VP8 stream (~1.5 Mb/s, 30 fps) sent
through an ordinary aiortc sender. Simulcast (``sfu-simulcast``): the three layers of
:func:`liveshop.media.synthetic_simulcast.default_layers` (f 640×360 900 kb/s, h 320×180
250 kb/s, q 160×90 80 kb/s), each encoded up front the same way at 30 fps and sent by
:class:`~liveshop.media.synthetic_simulcast.SimulcastPublisher` (RID extension on every packet,
one SSRC per layer). Every loop is :data:`LOOP_FRAMES` frames with a keyframe every second, at
the same frame indices in every layer; a PLI changes nothing (the next keyframe is at most a
second away). Each frame carries its index (:func:`liveshop.media.synthetic.draw_frame`), which
the sample viewer reads back for the glass-to-glass latency.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from multiprocessing.connection import Client, Connection
from typing import Any

WIDTH, HEIGHT, FPS = 1280, 720, 30
BITRATE = 1_500_000
LOOP_FRAMES = 150
NOISE = 40  # bytes of random texture per row (realistic bitrates; less on small layers)

Video = list[bytes] | dict[str, list[bytes]]  # one stream, or one per simulcast RID


def encode_loop(width: int = WIDTH, height: int = HEIGHT, bitrate: int = BITRATE) -> list[bytes]:
    """:data:`LOOP_FRAMES` VP8 frames of ``width`` × ``height``, a keyframe every second."""
    import av

    from liveshop.media.synthetic import draw_frame

    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = Fraction(FPS, 1)
    ctx.bit_rate = bitrate
    ctx.gop_size = FPS
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for i in range(LOOP_FRAMES):
        frame = draw_frame(i, width, height, noise=min(NOISE, width // 16))
        frame.pts = i
        packets += [bytes(p) for p in ctx.encode(frame)]
    packets += [bytes(p) for p in ctx.encode(None)]
    return packets[:LOOP_FRAMES]


def encode_layers(top: list[bytes] | None = None) -> dict[str, list[bytes]]:
    """The simulcast layers' loops, by RID (sizes and bitrates of ``default_layers``); with
    ``top``, that loop is the top layer (``f``) instead."""
    from liveshop.media.synthetic_simulcast import default_layers

    return {
        x.rid: top
        if top is not None and x.rid == "f"
        else encode_loop(x.width, x.height, x.bitrate)
        for x in default_layers()
    }


def kbps(packets: list[bytes]) -> float:
    """The bitrate of a loop at :data:`FPS`."""
    return sum(len(p) for p in packets) * 8 * FPS / len(packets) / 1000


def call(client: Connection, *request: Any) -> Any:
    client.send(request)
    reply = client.recv()
    if isinstance(reply, Exception):
        raise reply
    return reply


async def acall(client: Connection, *request: Any) -> Any:
    return await asyncio.to_thread(call, client, *request)


def publisher_main(address: str, video: Video, control: Connection, addresses: list[str]) -> None:
    from liveshop.media.aiortc_internals import restrict_host_addresses

    restrict_host_addresses(addresses)
    asyncio.run(_publisher(address, video, control))


async def _single(client: Connection, packets: list[bytes], sent_at: dict[int, float]) -> Any:
    """An aiortc peer sending the one pre-encoded stream (and Opus); returns it."""
    import av
    from aiortc import RTCPeerConnection, RTCRtpSender
    from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack

    from liveshop.media.synthetic import answer, offer

    class PacketTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.count = 0
            self.start = 0.0

        async def recv(self) -> Any:
            if not self.count:
                self.start = time.monotonic()
            due = self.start + self.count / FPS
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            index = self.count % LOOP_FRAMES
            packet = av.Packet(packets[index])
            packet.pts = self.count * (90000 // FPS)
            packet.time_base = Fraction(1, 90000)
            sent_at[index] = time.time()
            self.count += 1
            return packet

    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver(PacketTrack(), direction="sendonly")
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
    transceiver.setCodecPreferences(vp8)
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await answer(pc, await acall(client, "publish", await offer(pc)))
    return pc


async def _simulcast(
    client: Connection, layers: dict[str, list[bytes]], sent_at: dict[int, float]
) -> Any:
    """A :class:`SimulcastPublisher` sending the pre-encoded layers (and Opus); returns it."""
    from liveshop.media.base import MediaSession
    from liveshop.media.synthetic_simulcast import SimLayer, SimulcastPublisher, default_layers

    first = next(iter(layers))

    def encoded(layer: SimLayer, index: int) -> bytes:
        index %= LOOP_FRAMES
        if layer.rid == first:
            sent_at[index] = time.time()
        return layers[layer.rid][index]

    class Link:
        """The server, over the benchmark's socket."""

        async def publish(self, livestream_id: int, offer_sdp: str) -> MediaSession:
            return MediaSession("", await acall(client, "publish", offer_sdp))

    chosen = [x for x in default_layers() if x.rid in layers]  # (their sizes go unused)
    publisher = SimulcastPublisher(chosen, fps=FPS, encoded=encoded)
    await publisher.start(Link())
    return publisher


async def _publisher(address: str, video: Video, control: Connection) -> None:
    from aiortc import RTCPeerConnection

    from liveshop.media.synthetic import answer, offer, read_index

    sent_at: dict[int, float] = {}
    client = Client(address, family="AF_UNIX")
    if isinstance(video, dict):
        publisher = await _simulcast(client, video, sent_at)
    else:
        publisher = await _single(client, video, sent_at)

    sample = RTCPeerConnection()
    sample.addTransceiver("video", direction="recvonly")
    latencies: list[float] = []
    recording = False
    cpu_mark = time.process_time()

    async def consume(track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            index = read_index(frame)
            if recording and index in sent_at:
                latencies.append((time.time() - sent_at[index]) * 1000)

    tasks: list[asyncio.Task[None]] = []
    sample.on("track", lambda track: tasks.append(asyncio.ensure_future(consume(track))))
    await answer(sample, await acall(client, "watch", await offer(sample)))
    control.send("ready")
    while True:
        command = await asyncio.to_thread(control.recv)
        if command == "mark":
            recording = True
            latencies.clear()
            cpu_mark = time.process_time()
            control.send("ok")
        elif command == "report":
            control.send((latencies, time.process_time() - cpu_mark))
        elif command == "stop":
            break
    await sample.close()
    await publisher.close()
    for task in tasks:
        task.cancel()
    control.send("stopped")
