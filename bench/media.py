"""Media forwarding benchmark: ``python -m bench.media [--viewers 10,50,100] [--seconds 10]``.

Modes: ``sfu`` (the built-in forwarder), ``sfu-simulcast`` (the same forwarder, the publisher
sending three simulcast layers), ``relay`` (aiortc's MediaRelay), ``janus`` (one local
Janus VideoRoom driven by :class:`~liveshop.media.janus.backend.JanusMediaBackend`) and ``janus2`` (two
local Janus instances: the publisher on the first, viewers spread over both with VideoRoom's
remote publisher forwarding between them). For the Janus modes "server CPU" is the liveshop
server process (signalling, the stats/recording monitor) plus every Janus process, read from
``/proc/<pid>/stat``.

One 720p publisher (~1.5 Mb/s VP8 + Opus) sends to the server; N viewers spread over several
worker processes receive without decoding (their receivers are tapped: packets are counted, never
decoded). For each N it reports the server process CPU (all threads), CPU per viewer, viewers per
core and packet loss at the viewers; then the same for aiortc's stock ``MediaRelay`` (which
decodes once and re-encodes per viewer) at small N, and the ratio of CPU per viewer.

``sfu-simulcast``: the publisher offers simulcast ``f;h;q`` and sends three pre-encoded VP8
layers (640×360 900 kb/s, 320×180 250 kb/s, 160×90 80 kb/s, as
:func:`liveshop.media.synthetic_simulcast.default_layers`; with ``--same-top`` the top layer is
the single-layer 720p video itself), each on its own SSRC with the RID extension on every packet,
so every viewer has its own layer rule. The viewers are those of ``sfu``: no player size, no loss
and, since the counting viewers send no RTCP, no estimate, so every one should sit on the top
layer; the server's stats say which layer each is on (printed as viewers per layer, the sample
viewer included). Run with ``sfu`` (``--modes sfu,sfu-simulcast``) it prints, per N, the ratio of
server CPU per viewer simulcast / single layer, also per packet forwarded (the default top layer
carries less than the 720p stream; per packet uses the server's own count of packets forwarded).
The two modes alternate N by N; with ``--repeat K`` each pair runs K times and the ratio is that
of the medians over the runs in which the server lost nothing on the way in (such loss means it
was starved of CPU by other load and dropped packets it then did not forward; loss at the viewers
alone is their worker processes' and leaves the server's work as it was).

Glass-to-glass latency: the publisher stamps each frame with its index (pixel blocks) and keeps
the wall time it handed the frame to its sender; one extra sample viewer, in the publisher's
process, decodes and reads the index back (it is counted in CPU per viewer: N + 1 are served).
The publisher video is encoded once up front (a 5 s loop, keyframe every second) so that the
machine's CPU goes to forwarding, not to a live encoder; the latency therefore excludes encoding
time. Viewer workers and the publisher report their own CPU so a saturated machine is visible.

Processes: orchestrator (this), server (SFU or relay), publisher + sample viewer
(:mod:`bench._media_publisher`), viewer workers. They talk over ``multiprocessing.connection``
(a UNIX socket to the server, pipes for control). The table and ratios: :mod:`bench._media_report`.

Media stays home: in ``sfu``/``sfu-simulcast``/``relay`` every aiortc peer gathers on 127.0.0.1
only; in the Janus modes the Janus instances run inside a network namespace made for the run
(:class:`liveshop.media.netns.Namespace`, needs root) and every aiortc peer gathers on its near
address only. Nothing is sent to the machine's external address.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from bench._media_publisher import (
    HEIGHT,
    LOOP_FRAMES,
    WIDTH,
    Video,
    acall,
    call,
    encode_layers,
    encode_loop,
    kbps,
    publisher_main,
)
from bench._media_report import SIMULCAST, report

WORKERS = 4
WARMUP_S = 2.0
PROFILE_ENV = "BENCH_MEDIA_PROFILE"  # a directory: the server process is profiled into it
SFU_MODES = ("sfu", SIMULCAST)


# --------------------------------------------------------------------------------------------
# server process


class RelayServer:
    """The stock approach: decode the publisher once, re-encode per viewer (MediaRelay)."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.tracks: dict[str, Any] = {}
        self.pcs: list[Any] = []

    async def _answer(self, pc: Any, offer: str) -> str:
        from aiortc import RTCSessionDescription

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        sdp: str = pc.localDescription.sdp
        return sdp

    async def publish(self, offer: str) -> str:
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        self.pcs.append(pc)
        pc.on("track", lambda track: self.tracks.__setitem__(track.kind, track))
        return await self._answer(pc, offer)

    async def watch(self, offer: str) -> str:
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        self.pcs.append(pc)
        for kind in ("video", "audio"):
            if kind in self.tracks and f"m={kind}" in offer:
                pc.addTrack(self.relay.subscribe(self.tracks[kind], buffered=False))
        return await self._answer(pc, offer)

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


def stay_home(addresses: list[str]) -> None:
    """This process's aiortc peers gather ICE host candidates on ``addresses`` only."""
    from liveshop.media.aiortc_internals import restrict_host_addresses

    restrict_host_addresses(addresses)


def packet_counts(sfu: Any) -> tuple[int, int, int] | None:
    """The liveshop SFU's packets so far: received from the publisher (every layer and kind),
    missing from its streams, and forwarded to viewers (None for the other backends)."""
    from liveshop.media.sfu import SfuMediaBackend

    if not isinstance(sfu, SfuMediaBackend):
        return None
    received = lost = forwarded = 0
    for room in sfu.rooms.values():
        if room.publisher is not None:
            for source in room.publisher.sources.values():
                for layer in source.layers.values():
                    received += layer.stats.packets
                    lost += layer.stats.lost()
        for viewer in room.viewers.values():
            forwarded += sum(sink.rewriter.packets for sink in viewer.sinks.values())
    return received, lost, forwarded


def server_main(
    address: str,
    mode: str,
    media_dir: str,
    janus: tuple[list[str], str, str],
    addresses: list[str],
) -> None:
    stay_home(addresses)
    asyncio.run(_server(address, mode, media_dir, janus))


async def _server(
    address: str, mode: str, media_dir: str, janus: tuple[list[str], str, str]
) -> None:
    from liveshop.domain.layers import LayerPolicy
    from liveshop.media.base import MediaBackend, MediaEvent
    from liveshop.media.janus.backend import JanusMediaBackend
    from liveshop.media.sfu import SfuMediaBackend

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    profile_dir = os.environ.get(PROFILE_ENV)
    profiler = cProfile.Profile(time.thread_time) if profile_dir else None  # CPU, not wall
    windows: list[float] = []  # the "cpu" calls so far (they open and close the window)

    async def on_event(event: MediaEvent) -> None:
        return None

    sfu: MediaBackend | None = None
    relay: RelayServer | None = None
    if mode in SFU_MODES:
        # the counting viewers send no reports, so they would never climb from the start layer:
        # they start on the top one, which the CPU comparison with one layer is about
        sfu = SfuMediaBackend(
            media_dir=Path(media_dir),
            ice_servers=[],
            public_ip="",
            on_event=on_event,
            layer_policy=LayerPolicy(start_bps=math.inf),
        )
        await sfu.start()
    elif mode.startswith("janus"):
        urls, api_secret, admin_key = janus
        sfu = JanusMediaBackend(
            janus_urls=urls,
            media_dir=Path(media_dir),
            ice_servers=[],
            on_event=on_event,
            api_secret=api_secret,
            admin_secret=admin_key,
        )
        await sfu.start()
    else:
        relay = RelayServer()

    async def handle(request: tuple[Any, ...]) -> Any:
        op = request[0]
        if op == "publish":
            if sfu is not None:
                return (await sfu.publish(1, request[1])).answer_sdp
            assert relay is not None
            return await relay.publish(request[1])
        if op == "watch":
            if sfu is not None:
                for _ in range(100):  # the publisher may still be connecting
                    if sfu.is_live(1):
                        break
                    await asyncio.sleep(0.05)
                return (await sfu.watch(1, request[1])).answer_sdp
            assert relay is not None
            for _ in range(100):
                if "video" in relay.tracks:
                    break
                await asyncio.sleep(0.05)
            return await relay.watch(request[1])
        if op == "cpu":
            windows.append(time.monotonic())
            if profiler is not None and len(windows) == 1:
                profiler.enable()  # the event loop's thread, for the measurement window
            elif profiler is not None and len(windows) == 2:
                profiler.disable()
                name = f"server-{Path(address).stem}.prof"  # server-MODE-N.prof
                profiler.dump_stats(os.path.join(str(profile_dir), name))
            return time.process_time(), time.monotonic(), packet_counts(sfu)
        if op == "stats":
            return sfu.stats(1) if sfu is not None else {}
        if op == "stop":
            stop.set()
            return True
        raise ValueError(op)

    listener = Listener(address, family="AF_UNIX")

    def serve(conn: Connection) -> None:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            future = asyncio.run_coroutine_threadsafe(handle(request), loop)
            try:
                conn.send(future.result())
            except Exception as exc:
                conn.send(exc)

    def accept() -> None:
        while True:
            try:
                conn = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    await stop.wait()
    if sfu is not None:
        await sfu.close()
    if relay is not None:
        await relay.close()
    listener.close()


# --------------------------------------------------------------------------------------------
# viewer worker process (no decoding)


def worker_main(address: str, count: int, control: Connection, addresses: list[str]) -> None:
    stay_home(addresses)
    asyncio.run(_worker(address, count, control))


class Counter:
    def __init__(self) -> None:
        self.received = 0
        self.octets = 0  # video payload bytes
        self.ext: dict[int, int] = {}
        self.first = asyncio.Event()

    async def on_rtp(self, packet: Any) -> None:
        self.received += 1
        self.first.set()
        last = self.ext.get(packet.ssrc)
        if last is None:
            self.ext[packet.ssrc] = packet.sequence_number
        else:
            delta = (packet.sequence_number - last) & 0xFFFF
            if delta < 0x8000:
                self.ext[packet.ssrc] = last + delta

    async def on_video(self, packet: Any) -> None:
        self.octets += len(packet.payload)
        await self.on_rtp(packet)

    def snapshot(self) -> tuple[int, int, int]:
        return self.received, sum(self.ext.values()), self.octets


async def _worker(address: str, count: int, control: Connection) -> None:
    from aiortc import RTCPeerConnection

    from liveshop.media import aiortc_internals as internals
    from liveshop.media.synthetic import answer, offer

    client = Client(address, family="AF_UNIX")
    pcs: list[Any] = []
    counters: list[Counter] = []
    for _ in range(count):
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        sdp = await acall(client, "watch", await offer(pc))
        await answer(pc, sdp)
        counter = Counter()
        for transceiver in pc.getTransceivers():
            tap = counter.on_video if transceiver.kind == "video" else counter.on_rtp
            internals.tap_receiver(transceiver.receiver, tap, lambda: None, feedback=False)
        pcs.append(pc)
        counters.append(counter)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.first.wait() for c in counters)), 30)
    control.send(sum(1 for c in counters if c.received))
    marks: list[tuple[int, int, int]] = []
    cpu_mark = time.process_time()
    while True:
        command = await asyncio.to_thread(control.recv)
        if command == "mark":
            marks = [c.snapshot() for c in counters]
            cpu_mark = time.process_time()
            control.send("ok")
        elif command == "report":
            now = [c.snapshot() for c in counters]
            received = sum(n[0] - m[0] for n, m in zip(now, marks, strict=True))
            expected = sum(n[1] - m[1] for n, m in zip(now, marks, strict=True))
            octets = sum(n[2] - m[2] for n, m in zip(now, marks, strict=True))
            control.send((received, expected, octets, time.process_time() - cpu_mark))
        elif command == "stop":
            break
    for pc in pcs:
        await pc.close()
    control.send("stopped")


# --------------------------------------------------------------------------------------------
# orchestration


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (Janus runs outside Python)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_janus(tmp: str, count: int, tag: str, namespace: Any) -> list[Any]:
    """``count`` Janus instances inside ``namespace`` (APIs and ICE on its far address)."""
    import secrets

    from liveshop.media.janus.process import LocalJanus

    api_secret, admin_key = secrets.token_hex(8), secrets.token_hex(8)
    instances = []
    for i in range(count):
        start = 30000 + i * 2000
        janus = LocalJanus(
            Path(tmp) / f"janus-{tag}-{i}",
            rtp_ports=(start, start + 1999),
            api_secret=api_secret,
            admin_key=admin_key,
            debug_level=3,
            host=namespace.far,
            command_prefix=namespace.command(),
        )
        janus.start()
        instances.append(janus)
    return instances


def run_config(
    ctx: Any, mode: str, viewers: int, seconds: float, video: Video, tmp: str
) -> dict[str, Any]:
    address = os.path.join(tmp, f"{mode}-{viewers}.sock")
    januses = []
    janus_args: tuple[list[str], str, str] = ([], "", "")
    addresses = ["127.0.0.1"]
    namespace = None
    if mode.startswith("janus"):
        from liveshop.media.netns import Namespace, problem

        if (reason := problem()) is not None:
            raise SystemExit(f"{mode} needs a network namespace: {reason}")
        namespace = Namespace().create()
        addresses = [namespace.near]
        januses = start_janus(tmp, 2 if mode == "janus2" else 1, f"{mode}-{viewers}", namespace)
        janus_args = ([j.url for j in januses], januses[0].api_secret, januses[0].admin_key)
    try:
        return _measure(
            ctx, mode, viewers, seconds, video, tmp, address, januses, janus_args, addresses
        )
    finally:
        for janus in januses:
            janus.stop()
        if namespace is not None:
            namespace.delete()


def _measure(
    ctx: Any,
    mode: str,
    viewers: int,
    seconds: float,
    video: Video,
    tmp: str,
    address: str,
    januses: list[Any],
    janus_args: tuple[list[str], str, str],
    addresses: list[str],
) -> dict[str, Any]:
    server = ctx.Process(
        target=server_main, args=(address, mode, tmp, janus_args, addresses), daemon=True
    )
    server.start()
    deadline = time.monotonic() + 20
    while not os.path.exists(address):
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    client = Client(address, family="AF_UNIX")
    pub_ctl, pub_child = ctx.Pipe()
    publisher = ctx.Process(
        target=publisher_main, args=(address, video, pub_child, addresses), daemon=True
    )
    publisher.start()
    assert recv(pub_ctl) == "ready"
    controls: list[Connection] = []
    workers = []
    nworkers = min(WORKERS, viewers)
    for i in range(nworkers):
        share = viewers // nworkers + (1 if i < viewers % nworkers else 0)
        ctl, child = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(address, share, child, addresses), daemon=True)
        proc.start()
        controls.append(ctl)
        workers.append(proc)
    connected = sum(recv(ctl) for ctl in controls)
    time.sleep(WARMUP_S)
    for ctl in [*controls, pub_ctl]:
        ctl.send("mark")
    for ctl in [*controls, pub_ctl]:
        recv(ctl)
    janus_pids = [j.process.pid for j in januses if j.process is not None]
    jcpu0 = [proc_cpu_seconds(pid) for pid in janus_pids]
    cpu0, t0, counts0 = call(client, "cpu")
    time.sleep(seconds)
    cpu1, t1, counts1 = call(client, "cpu")
    jcpu1 = [proc_cpu_seconds(pid) for pid in janus_pids]
    janus_cores = [(b - a) / (t1 - t0) for a, b in zip(jcpu0, jcpu1, strict=True)]
    received = expected = octets = 0
    harness_cpu = 0.0
    for ctl in controls:
        ctl.send("report")
        r, e, o, c = recv(ctl)
        received += r
        expected += e
        octets += o
        harness_cpu += c
    pub_ctl.send("report")
    latencies, pub_cpu = recv(pub_ctl)
    stats = call(client, "stats")
    for ctl in [*controls, pub_ctl]:
        ctl.send("stop")
    for ctl in [*controls, pub_ctl]:
        recv(ctl)
    client.send(("stop",))  # the server exits; no reply
    for proc in [*workers, publisher, server]:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    liveshop_cores = (cpu1 - cpu0) / (t1 - t0)
    cores = liveshop_cores + sum(janus_cores)
    served = viewers + 1  # the sample viewer is served too
    loss = max(0.0, 1 - received / expected) if expected else 1.0
    lat = sorted(latencies)
    in_loss = fwd_pps = None
    if counts0 is not None and counts1 is not None:
        got, lost, sent = (b - a for a, b in zip(counts0, counts1, strict=True))
        in_loss = 100 * lost / (got + lost) if got + lost else 100.0
        fwd_pps = sent / (t1 - t0) / served
    return {
        "mode": mode,
        "viewers": viewers,
        "connected": connected,
        "cores": cores,
        "cpu_per_viewer_pct": 100 * cores / served,
        "viewers_per_core": served / cores if cores else float("inf"),
        "loss_pct": 100 * loss,
        "lat_p50": statistics.median(lat) if lat else None,
        "lat_p95": lat[int(0.95 * (len(lat) - 1))] if lat else None,
        "kbps": (stats.get("publisher") or {}).get("bitrateKbps"),
        "layers": dict(stats.get("viewersPerLayer") or {}),
        "in_layers": {  # the simulcast layers the server receives: rid -> (height, kb/s)
            x["rid"]: (x["height"], x["bitrateKbps"])
            for x in (stats.get("publisher") or {}).get("layers", [])
        },
        # what each viewer received: packets/s (video + audio) and video kb/s
        "pps": received / (t1 - t0) / viewers,
        # the server's side (sfu modes): loss on the way in (the publisher's streams), and the
        # packets it forwarded per second per viewer served
        "in_loss_pct": in_loss,
        "fwd_pps": fwd_pps,
        "out_kbps": octets * 8 / (t1 - t0) / viewers / 1000,
        "liveshop_cores": liveshop_cores,
        "janus_cores": janus_cores,
        "viewer_procs_cores": harness_cpu / (t1 - t0),
        "publisher_cores": pub_cpu / (t1 - t0),
        "stats": stats,  # the server's, at the end of the window
    }


def recv(conn: Connection, timeout: float = 90.0) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("a benchmark process did not answer")
    return conn.recv()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--viewers", default="10,50,100", help="SFU viewer counts")
    parser.add_argument("--relay-viewers", default="2,4", help="MediaRelay viewer counts")
    parser.add_argument("--janus-viewers", default="10,50,100", help="Janus viewer counts")
    parser.add_argument(
        "--modes",
        default="sfu,janus,janus2,relay",
        help="which of sfu,sfu-simulcast,janus,janus2,relay",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="cProfile the server's event loop (its CPU time) over each measurement window into "
        "DIR/server-MODE-N.prof (it slows the server: CPU figures are then not comparable)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run everything this many times (noisy machine)"
    )
    parser.add_argument(
        "--same-top",
        action="store_true",
        help="sfu-simulcast's top layer is the single-layer video itself (720p, 1.5 Mb/s) "
        "instead of 640x360 at 900 kb/s: the ratio to sfu is then simulcast's own cost",
    )
    args = parser.parse_args(argv)
    sfu_counts = [int(n) for n in args.viewers.split(",") if n]
    relay_counts = [int(n) for n in args.relay_viewers.split(",") if n]
    janus_counts = [int(n) for n in args.janus_viewers.split(",") if n]
    modes = [m for m in args.modes.split(",") if m]
    plan = {"sfu": sfu_counts, "sfu-simulcast": sfu_counts}
    plan |= {"janus": janus_counts, "janus2": janus_counts, "relay": relay_counts}
    if unknown := [m for m in modes if m not in plan]:
        parser.error(f"unknown mode(s) {','.join(unknown)}; choose from {','.join(plan)}")

    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
        os.environ[PROFILE_ENV] = os.path.abspath(args.profile)  # the spawned server reads it
    started = time.monotonic()
    single: list[bytes] = []
    layers: dict[str, list[bytes]] = {}
    if any(m != SIMULCAST for m in modes) or args.same_top:
        print(f"pre-encoding {LOOP_FRAMES} frames of {WIDTH}x{HEIGHT} VP8 ...", flush=True)
        single = encode_loop()
        print(f"publisher video: {kbps(single):.0f} kb/s", flush=True)
    if SIMULCAST in modes:
        print(f"pre-encoding {LOOP_FRAMES} frames of each simulcast layer ...", flush=True)
        layers = encode_layers(single if args.same_top else None)
        rates = ", ".join(f"{rid} {kbps(loop):.0f}" for rid, loop in layers.items())
        print(f"simulcast publisher: {rates} kb/s", flush=True)
    print(f"{os.cpu_count()} CPUs", flush=True)
    ctx = mp.get_context("spawn")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        for mode, n in schedule(modes, plan, args.repeat):
            video: Video = layers if mode == SIMULCAST else single
            result = run_config(ctx, mode, n, args.seconds, video, tmp)
            results.append(result)
            split = ""
            if result["janus_cores"]:
                parts = " + ".join(f"{c:.2f}" for c in result["janus_cores"])
                split = f" (liveshop {result['liveshop_cores']:.2f} + janus {parts})"
            if result["in_layers"]:
                got = ", ".join(f"{k} {h}p {r:.0f}" for k, (h, r) in result["in_layers"].items())
                split += f", layers in: {got} kb/s; viewers per layer {result['layers']}"
            print(
                f"  {mode:13} N={n:3}: server {result['cores']:.2f} cores{split}, "
                f"loss {result['loss_pct']:.2f} %; viewer processes "
                f"{result['viewer_procs_cores']:.2f} cores, publisher+sample "
                f"{result['publisher_cores']:.2f} cores",
                flush=True,
            )
    report(results)
    print(f"total run time {time.monotonic() - started:.0f} s")


def schedule(
    modes: list[str], plan: dict[str, list[int]], repeat: int = 1
) -> list[tuple[str, int]]:
    """The runs in order: mode by mode, except that ``sfu`` and ``sfu-simulcast`` alternate
    N by N (a ratio's two sides run close together on a machine whose load drifts); all of it
    ``repeat`` times."""
    pair = [m for m in modes if m in SFU_MODES]

    def key(run: tuple[str, int]) -> tuple[int, int]:
        mode, n = run
        return (modes.index(pair[0]), n) if mode in pair else (modes.index(mode), 0)

    return sorted(((m, n) for m in modes for n in plan[m]), key=key) * repeat


if __name__ == "__main__":
    sys.exit(main())
