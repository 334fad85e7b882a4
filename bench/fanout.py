"""WebSocket fan-out benchmark: liveshop's ``/ws`` against a bare ``websockets`` broadcast server.

``python -m bench.fanout`` — for each server, N viewers connect from load-generator processes
(picows clients), then for each rate one sender chats at that rate for ``--seconds``; every
message's text is its send time (``time.time()``, same machine clock) and every viewer records the
delivery latency. N climbs a ladder (1,000 … 15,000); a rate leaves the ladder at the first N
that fails it (``--no-climb`` runs every cell). Per cell it prints delivered/expected, p50/p99
latency, server CPU and frames per server CPU-second; then, per rate, the largest N with
p99 ≤ 250 ms and nothing lost for liveshop and for each reference, and their ratios.

Servers, all in the same run: ``liveshop`` (``liveshop serve``), ``bare`` — the reference: a
plain ``websockets`` server (``bench/_fanout_bare.py``) that ``broadcast()``s one frame per
message on asyncio's own event loop, as a plain ``websockets`` program runs — and
``bare-uvloop``, the same server on uvloop (liveshop runs on uvloop too), a stricter reference.

Layout on a 2-core machine: the server on core 0, load generators and the sender on core 1
(``--server-cpus`` / ``--client-cpus``). ``--workers 2`` runs ``liveshop serve --workers 2``
(with a private Redis) on both cores — it then shares core 1 with the load generator. The
ladder's top is bounded by the open-files limit (``ulimit -Hn``; 20,000 here).

Examples::

    python -m bench.fanout                      # the ladder × 5, 20 msg/s, 10 s (~15 min)
    python -m bench.fanout --quick              # N = 500, 1000 × 20 msg/s, 5 s (~1 min)
    python -m bench.fanout --only liveshop --workers 2
    python -m bench.fanout --viewers 3000 --rates 20 --only liveshop,bare --json out.json

Latency percentiles count every expected delivery: a message a viewer never got counts as
infinitely late (so p99 is "lost" when more than 1 % is missing). The sender uses many identities
(chat is limited to 1 message/s per identity) and those sender sockets are joined too: the server
fans out to N + senders sockets; only the N viewers are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import resource
import sys
import time
import uuid
from array import array
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench._fanout_client import mint_token
from bench._fanout_servers import (
    BareServer,
    LiveshopServer,
    Server,
    machine_busy_seconds,
    tree_cpu_seconds,
)

P99_TARGET_MS = 250.0
RATIO_TARGET = 1.5
SENDER_RATE = 0.7  # messages/s per sender identity (the server allows 1/s, burst 5)


@dataclass
class Cell:
    server: str
    viewers: int
    rate: float
    seconds: float
    connected: int = 0
    connect_seconds: float = 0.0
    sent: int = 0
    refused: int = 0
    expected: int = 0
    delivered: int = 0
    closed: int = 0
    frames: int = 0
    p50_ms: float = math.inf
    p99_ms: float = math.inf
    max_ms: float = math.inf
    ingest_p50_ms: float = math.inf
    ingest_p99_ms: float = math.inf
    echo_p99_ms: float = math.inf
    cpu_seconds: float = 0.0
    sys_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    other_cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    send_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return max(self.expected - self.delivered, 0)

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def percent(self, seconds: float) -> float:
        return 100.0 * seconds / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def frames_per_cpu_second(self) -> float:
        return self.frames / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.expected > 0 and self.lost == 0 and self.p99_ms <= P99_TARGET_MS


# --- load generator processes ---------------------------------------------------------------


class LoadGen:
    """One ``bench._fanout_client`` process, spoken to over stdin/stdout (JSON lines)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls, config: dict[str, Any]) -> LoadGen:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._fanout_client",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,
        )
        gen = cls(proc)
        gen._write(config)
        return gen

    def _write(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())

    async def ask(self, cmd: str, **extra: Any) -> dict[str, Any]:
        self._write({"cmd": cmd, **extra})
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a load generator exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ask("quit"), 10)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()


async def ask_all(gens: list[LoadGen], cmd: str, **extra: Any) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(g.ask(cmd, **extra) for g in gens)))


# --- sender --------------------------------------------------------------------------------


class Sender:
    """Several sender identities (guest tokens), each joined on its own socket."""

    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.refused = 0
        self._readers: list[asyncio.Task[None]] = []
        # diagnostics, seen on the first sender socket: send → server's createdAt (ingest, before
        # the insert is committed) and send → arrival on that socket (it joined after the viewers)
        self.ingest_ms: list[float] = []
        self.echo_ms: list[float] = []

    async def open(self, server: Server, count: int) -> None:
        for i in range(count):
            token = mint_token(server.secret, f"g_sender{uuid.uuid4().hex[:16]}", f"sender-{i}")
            ws = await connect(f"{server.url}?token={token}", compression=None, max_size=None)
            await ws.send(json.dumps({"type": "join", "livestreamId": server.show}))
            async with asyncio.timeout(60):
                while True:  # the snapshot may come as the first event of a batch frame
                    first = json.loads(await ws.recv())
                    if first.get("type") == "batch" and first.get("events"):
                        first = first["events"][0]
                    if first.get("type") == "snapshot":
                        break
            self._readers.append(asyncio.create_task(self._read(ws, watch=not self.sockets)))
            self.sockets.append(ws)

    async def _read(self, ws: ClientConnection, watch: bool) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                if watch and isinstance(raw, str) and '"chat_message"' in raw:
                    self._watch(raw, time.time())
                if isinstance(raw, str) and '"type":"error"' in raw:
                    self.refused += 1
                    if self.refused <= 3:
                        print(f"    sender refused: {raw[:200]}", file=sys.stderr)

    def _watch(self, raw: str, now: float) -> None:
        data = json.loads(raw)
        for event in data["events"] if data.get("type") == "batch" else [data]:
            if event.get("type") != "chat_message":
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                sent = float(event["text"])
                created = datetime.fromisoformat(event["createdAt"].replace("Z", "+00:00"))
                self.ingest_ms.append((created.timestamp() - sent) * 1000)
                self.echo_ms.append((now - sent) * 1000)

    async def run(self, rate: float, seconds: float, tag: str) -> tuple[int, float]:
        """Send ``rate × seconds`` messages evenly spaced; return (sent, duration)."""
        total = round(rate * seconds)
        start = time.time() + 0.05
        for i in range(total):
            delay = start + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ws = self.sockets[i % len(self.sockets)]
            now = time.time()
            await ws.send(
                f'{{"type":"chat_send","text":"{now:.6f}","clientMessageId":"{tag}-{i}"}}'
            )
        return total, time.time() - start

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)


# --- one server ----------------------------------------------------------------------------


def percentiles(lat_ms: list[float], expected: int) -> tuple[float, float, float]:
    """p50, p99 and max over ``expected`` deliveries; missing ones count as infinitely late."""
    if expected <= 0:
        return math.inf, math.inf, math.inf
    lat_ms.sort()

    def pick(q: float) -> float:
        i = max(math.ceil(q * expected) - 1, 0)
        return lat_ms[i] if i < len(lat_ms) else math.inf

    top = lat_ms[-1] if len(lat_ms) >= expected and lat_ms else math.inf
    return pick(0.50), pick(0.99), top


async def run_server(server: Server, args: argparse.Namespace) -> list[Cell]:
    cells: list[Cell] = []
    print(f"\n== {server.name}: starting", flush=True)
    await server.start()
    rates = list(args.rates)  # the rates still climbing the ladder of N
    try:
        for n in args.viewers:
            if not rates:
                print(f"   {server.name}: stopped before N={n} (no rate passed at the last N)")
                break
            done = await run_viewers(server, n, rates, args)
            cells.extend(done)
            if args.climb:
                rates = [c.rate for c in done if c.ok]
    finally:
        await server.stop()
    return cells


async def run_viewers(
    server: Server, n: int, rates: list[float], args: argparse.Namespace
) -> list[Cell]:
    procs = max(1, min(args.procs, n))
    shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    gens = [
        await LoadGen.spawn(
            {
                "url": server.url,
                "secret": server.secret,
                "prefix": f"v{i}",
                "count": share,
                "show": server.show,
                "cpus": args.client_cpus,
                "concurrency": args.concurrency,
            }
        )
        for i, share in enumerate(shares)
    ]
    sender = Sender()
    cells: list[Cell] = []
    try:
        started = time.monotonic()
        ready = await ask_all(gens, "connect")
        connected = sum(r["ready"] for r in ready)
        connect_seconds = time.monotonic() - started
        failed = sum(r["failed"] for r in ready)
        print(
            f"   {server.name} N={n}: {connected} viewers joined in {connect_seconds:.1f} s"
            + (f" ({failed} failed)" if failed else ""),
            flush=True,
        )
        await sender.open(server, max(2, math.ceil(max(rates) / SENDER_RATE)))
        await asyncio.sleep(args.settle)
        for rate in rates:
            cell = Cell(server.name, n, rate, args.seconds, connected, connect_seconds)
            await run_cell(server, gens, sender, cell, args)
            cells.append(cell)
            print("   " + format_row(cell), flush=True)
            await asyncio.sleep(args.settle)
    finally:
        await sender.close()
        await asyncio.gather(*(g.close() for g in gens))
        await asyncio.sleep(1.0)  # let the server forget the sockets before the next N
    return cells


async def run_cell(
    server: Server, gens: list[LoadGen], sender: Sender, cell: Cell, args: argparse.Namespace
) -> None:
    since = time.time()
    await ask_all(gens, "start", since=since)
    refused_before = sender.refused
    sender.ingest_ms, sender.echo_ms = [], []
    (user0, sys0), wall0 = server.cpu(), time.monotonic()
    client0 = sum(tree_cpu_seconds(g.proc.pid) for g in gens)
    ours0, busy0 = tree_cpu_seconds(os.getpid()), machine_busy_seconds()
    tag = f"fb{uuid.uuid4().hex[:6]}"
    cell.sent, cell.send_seconds = await sender.run(cell.rate, cell.seconds, tag)
    # drain: until everything arrived, nothing moved for --drain-idle s, or --drain-max s passed
    last_change, last_total, end = time.monotonic(), -1, time.monotonic() + args.drain_max
    while time.monotonic() < end:
        await asyncio.sleep(0.25)
        cell.refused = sender.refused - refused_before
        cell.expected = cell.connected * (cell.sent - cell.refused)
        total = sum(c["delivered"] for c in await ask_all(gens, "count"))
        if total >= cell.expected:
            break
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > args.drain_idle:
            break
    user1, sys1 = server.cpu()
    cell.cpu_seconds, cell.sys_cpu_seconds = user1 + sys1 - user0 - sys0, sys1 - sys0
    cell.wall_seconds = time.monotonic() - wall0
    cell.client_cpu_seconds = sum(tree_cpu_seconds(g.proc.pid) for g in gens) - client0
    ours = tree_cpu_seconds(os.getpid()) - ours0
    cell.other_cpu_seconds = max(machine_busy_seconds() - busy0 - ours, 0.0)
    lat: list[float] = []
    for answer in await ask_all(gens, "collect"):
        cell.delivered += answer["delivered"]
        cell.frames += answer["frames"]
        cell.closed += answer["closed"]
        lat.extend(array("f", base64.b64decode(answer["lat"])))
    cell.refused = sender.refused - refused_before
    cell.expected = cell.connected * (cell.sent - cell.refused)
    cell.p50_ms, cell.p99_ms, cell.max_ms = percentiles(lat, cell.expected)
    ingest = sorted(sender.ingest_ms)
    if ingest:
        cell.ingest_p50_ms, cell.ingest_p99_ms, _ = percentiles(ingest, len(ingest))
        cell.echo_p99_ms = percentiles(sender.echo_ms, len(sender.echo_ms))[1]


# --- report --------------------------------------------------------------------------------

HEADER = (
    f"{'server':<12} {'N':>6} {'msg/s':>5} {'delivered/expected':>21} {'lost':>6} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU %':>6} {'sys %':>5} {'frames/s':>9} "
    f"{'frames/CPU-s':>12} {'closed':>6} {'client %':>8} {'other %':>7} {'ingest p50/p99':>14}"
)


def _ms(value: float) -> str:
    return "lost" if math.isinf(value) else f"{value:.0f}"


def format_row(c: Cell) -> str:
    fps = c.frames / c.wall_seconds if c.wall_seconds else 0.0
    return (
        f"{c.server:<12} {c.viewers:>6} {c.rate:>5g} {f'{c.delivered}/{c.expected}':>21} "
        f"{c.lost:>6} {_ms(c.p50_ms):>8} {_ms(c.p99_ms):>8} {_ms(c.max_ms):>8} "
        f"{c.cpu_percent:>6.0f} {c.percent(c.sys_cpu_seconds):>5.0f} {fps:>9.0f} {c.frames_per_cpu_second:>12.0f} {c.closed:>6} "
        f"{c.percent(c.client_cpu_seconds):>8.0f} {c.percent(c.other_cpu_seconds):>7.0f} "
        f"{f'{_ms(c.ingest_p50_ms)}/{_ms(c.ingest_p99_ms)}':>14}"
    )


def largest_ok(cells: list[Cell], server: str, rate: float) -> int | None:
    ok = [c.viewers for c in cells if c.server == server and c.rate == rate and c.ok]
    return max(ok) if ok else None


def report(cells: list[Cell], args: argparse.Namespace) -> None:
    print("\n" + HEADER)
    print("-" * len(HEADER))
    for c in sorted(cells, key=lambda c: (c.server, c.rate, c.viewers)):
        print(format_row(c))
    print(
        f"\nA cell passes when p99 ≤ {P99_TARGET_MS:.0f} ms and nothing is lost "
        f"(tested N: {', '.join(map(str, args.viewers))}; lost deliveries count as infinitely late)."
    )
    servers = sorted({c.server for c in cells})
    references = [s for s in servers if s.startswith("bare")]
    top = max(args.viewers)
    for rate in args.rates:
        best = {s: largest_ok(cells, s, rate) for s in servers}

        def shown(s: str, best: dict[str, int | None] = best) -> str:
            n = best[s]
            return "none" if n is None else (f"≥ {n}" if n == top else str(n))

        parts = [f"{s} {shown(s)}" for s in servers]
        line = f"{rate:g} msg/s: largest N with p99 ≤ {P99_TARGET_MS:.0f} ms: " + ", ".join(parts)
        for s in servers:
            if s in references:
                continue
            for ref in references:
                mine, theirs = best[s], best[ref]
                if mine is None:
                    ratio = "0"
                elif theirs is None:
                    ratio = f"> {mine / min(args.viewers):.2f}"
                else:
                    ratio = f"{mine / theirs:.2f}" + (" (at least)" if mine == top else "")
                    if theirs == top:
                        ratio += " (the reference passed the largest N tested)"
                line += f"; {s}/{ref} = {ratio}"
        print(line + f" (target ≥ {RATIO_TARGET})")
    for s in servers:
        if s in references:
            continue
        for rate, need in ((20.0, 2000), (5.0, 5000)):
            if rate not in args.rates:
                continue
            best_n = largest_ok(cells, s, rate)
            met = best_n is not None and best_n >= need
            print(
                f"target {s}: {rate:g} msg/s, ≥ {need} viewers with p99 ≤ {P99_TARGET_MS:.0f} ms "
                f"and nothing lost: {'MET' if met else 'NOT MET'}"
                + (f" (best N = {best_n})" if best_n is not None else " (no tested N passed)")
            )


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    def floats(text: str) -> list[float]:
        return [float(x) for x in text.split(",") if x]

    p = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n")[0])
    p.add_argument(
        "--viewers",
        type=ints,
        default=[1000, 2000, 5000, 7500, 10000, 15000],
        help="the ladder of N, climbed in order",
    )
    p.add_argument(
        "--no-climb",
        dest="climb",
        action="store_false",
        help="run every N at every rate (default: a rate stops at the first N that fails)",
    )
    p.add_argument("--rates", type=floats, default=[5.0, 20.0], help="messages/s list")
    p.add_argument("--seconds", type=float, default=10.0, help="sending time per cell")
    p.add_argument(
        "--only",
        type=lambda t: t.split(","),
        default=None,
        help="comma list of servers: liveshop, bare (asyncio loop), bare-uvloop",
    )
    p.add_argument("--workers", type=ints, default=[1], help="liveshop worker counts, e.g. 1,2")
    p.add_argument("--quick", action="store_true", help="N = 500,1000 × 20 msg/s for 5 s")
    p.add_argument("--procs", type=int, default=4, help="load-generator processes")
    p.add_argument("--concurrency", type=int, default=50, help="handshakes in flight per process")
    p.add_argument("--server-cpus", default="0", help="taskset list for a 1-process server")
    p.add_argument("--client-cpus", type=ints, default=None, help="default: the other cores")
    p.add_argument(
        "--settle", type=float, default=5.0, help="quiet seconds before each cell (joins settle)"
    )
    p.add_argument("--drain-max", type=float, default=15.0)
    p.add_argument("--drain-idle", type=float, default=3.0)
    p.add_argument("--json", default=None, help="also write the cells to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.viewers, args.rates, args.seconds = [500, 1000], [20.0], 5.0
    cores = sorted(os.sched_getaffinity(0))
    server_cores = [int(x) for x in args.server_cpus.split(",")]
    if args.client_cpus is None:
        args.client_cpus = [c for c in cores if c not in server_cores] or cores
    return args


async def amain(args: argparse.Namespace) -> list[Cell]:
    cells: list[Cell] = []
    all_cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    servers: list[Server] = []
    only = args.only or ["liveshop", "bare", "bare-uvloop"]
    if "liveshop" in only:
        for w in args.workers:
            servers.append(LiveshopServer(args.server_cpus if w == 1 else all_cpus, w))
    if "bare" in only:
        servers.append(BareServer(args.server_cpus, "asyncio"))
    if "bare-uvloop" in only:
        servers.append(BareServer(args.server_cpus, "uvloop"))
    for server in servers:
        try:
            cells.extend(await run_server(server, args))
        except Exception as exc:  # report what we have; never hide the failure
            print(f"!! {server.name} failed: {exc!r}", file=sys.stderr)
    return cells


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by servers and clients
    if hard < max(args.viewers) + 200:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} < N; raise it", file=sys.stderr)
    os.sched_setaffinity(0, set(args.client_cpus))  # the sender runs beside the load generators
    print(
        f"fan-out bench: N={args.viewers} rates={args.rates} msg/s, {args.seconds:g} s each; "
        f"server cpus {args.server_cpus}, load generators cpus {args.client_cpus} "
        f"({args.procs} processes, picows); nofile {hard}",
        flush=True,
    )
    started = time.monotonic()
    cells = asyncio.run(amain(args))
    report(cells, args)
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(c) for c in cells], f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
