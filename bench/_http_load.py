"""A cheap HTTP/1.1 keep-alive load generator (run as ``python -m bench._http_load``).

``C`` connections each send ``GET path`` and read the answer by ``Content-Length`` before sending
the next one (closed loop, no pipelining). The first ``warmup`` seconds are discarded; answers that
complete during the next ``seconds`` are counted and their latencies recorded. The summary is printed
as one JSON object on stdout (``--latency-file`` also keeps every latency).

It is an ``asyncio.Protocol`` (uvloop when installed) with a minimal parser on purpose: the client
must cost far less per request than the server it measures. ``clientCpu`` in the summary is the
client's CPU time over the measured window; near 1.0 means the client itself was the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import resource
import sys
import time
from array import array
from dataclasses import dataclass, field
from typing import Any, cast


@dataclass
class Shared:
    """State shared by every connection of one run."""

    measuring: bool = False
    stopping: bool = False
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    expected_length: int | None = None


class Connection(asyncio.Protocol):
    """One keep-alive connection issuing requests back to back."""

    def __init__(self, request: bytes, shared: Shared, closed: asyncio.Future[None]) -> None:
        self.request = request
        self.shared = shared
        self.closed = closed
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.started = 0.0
        self.body_end = -1  # index in buffer where the current answer ends, -1 while unknown

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def _error(self, message: str) -> None:
        self.shared.errors += 1
        if not self.shared.first_error:
            self.shared.first_error = message

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.body_end < 0:
                head_end = buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = bytes(buffer[:head_end]).lower()
                marker = head.find(b"\r\ncontent-length:")
                if marker < 0:
                    self._error("answer without Content-Length")
                    assert self.transport is not None
                    self.transport.close()
                    return
                value_end = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17 : value_end if value_end >= 0 else len(head)])
                self.body_end = head_end + 4 + length
                if not head.startswith(b"http/1.1 200 "):
                    self._error(head.split(b"\r\n", 1)[0].decode(errors="replace"))
                elif (
                    self.shared.expected_length is not None
                    and length != self.shared.expected_length
                ):
                    self._error(f"body of {length} bytes, expected {self.shared.expected_length}")
            if len(buffer) < self.body_end:
                return
            done = time.perf_counter()
            del buffer[: self.body_end]
            self.body_end = -1
            if self.shared.measuring:
                self.shared.latencies.append(done - self.started)
            if self.shared.stopping:
                assert self.transport is not None
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.shared.stopping:
            self._error(f"connection lost: {exc!r}")
        if not self.closed.done():
            self.closed.set_result(None)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_load(
    host: str,
    port: int,
    path: str,
    *,
    connections: int,
    warmup: float,
    seconds: float,
    expected_length: int | None = None,
) -> dict[str, Any]:
    """Drive ``connections`` keep-alive clients against ``GET path``; return the summary."""
    loop = asyncio.get_running_loop()
    shared = Shared(expected_length=expected_length)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode()
    closed: list[asyncio.Future[None]] = []
    transports: list[asyncio.BaseTransport] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        connected, _protocol = await loop.create_connection(
            functools.partial(Connection, request, shared, done), host, port
        )
        closed.append(done)
        transports.append(connected)
    await asyncio.sleep(warmup)
    warmup_errors = shared.errors
    shared.errors, shared.first_error = 0, ""
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    shared.measuring = True
    await asyncio.sleep(seconds)
    shared.measuring = False
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    shared.stopping = True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*closed), timeout=5.0)
    for transport in transports:
        transport.close()
    latencies = sorted(shared.latencies)
    return {
        "path": path,
        "connections": connections,
        "seconds": elapsed,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1] if latencies else 0.0,
        "errors": shared.errors,
        "warmupErrors": warmup_errors,
        "firstError": shared.first_error,
        "clientCpu": cpu / elapsed,
        "latencies": latencies,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HTTP/1.1 keep-alive load generator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--expected-length", type=int, default=None)
    parser.add_argument(
        "--latency-file", default=None, help="also write every latency (s) there as array('d')"
    )
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
        loop_name = "asyncio"
    else:
        runner = uvloop.run
        loop_name = "uvloop"
    summary = runner(
        run_load(
            args.host,
            args.port,
            args.path,
            connections=args.connections,
            warmup=args.warmup,
            seconds=args.seconds,
            expected_length=args.expected_length,
        )
    )
    summary["loop"] = loop_name
    latencies = summary.pop("latencies")
    if args.latency_file:
        with open(args.latency_file, "wb") as handle:
            array("d", latencies).tofile(handle)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
