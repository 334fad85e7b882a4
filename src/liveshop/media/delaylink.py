"""Added delay and jitter without netem: a process that holds every frame of a link for a while.

The ``netem`` qdisc is not available on the machines the tests run on (no kernel module), so a
delayed link is a userspace bridge: ``python -m liveshop.media.delaylink A B --delay-ms 75
--jitter-ms 15`` runs inside a network namespace of its own that holds two interfaces, ``A`` and
``B`` (each one end of a veth pair), and nothing else. It reads every Ethernet frame arriving on
one with an ``AF_PACKET`` socket and writes it out of the other later, both ways: ARP, IPv4 and
IPv6 alike, so the two outer ends see one plain Ethernet link. :class:`DelayLink` starts and
stops that process; ``liveshop.media.netns.Namespace(delay=Delay(...))`` builds the topology
(caller ─veth─ bridge namespace ─veth─ viewer namespace). Tests and benchmarks only.

Guarantees, per direction:

* Each frame is drawn a delay uniform in ``[delay - jitter, delay + jitter]`` from its arrival
  (the kernel's receive timestamp, so time this process spends descheduled before reading it
  does not add to the delay) and is written out then, **except that it never leaves before the
  frame that arrived before it**: order is kept. A frame whose draw would overtake its
  predecessor leaves right after it, so within bursts (frames closer together than
  ``2 × jitter``: a video frame's packets) the delays bunch towards the top of the range; sparse
  traffic (an echo every few ms or more) gets the uniform draw. The round trip through a link
  of ``delay ± jitter`` each way is ``2 × delay ± 2 × jitter`` (triangular for sparse traffic).
* Frames leave late by this process's scheduling (a ``select`` loop with millisecond timeouts,
  about 1 ms when the machine is idle, a few ms at p99 on a loaded 2-core machine; it runs at
  nice -10 when allowed); the summary it prints at exit says by how much (``late_ms``), with
  the delay each frame actually got (``held_ms``) and any drops.
* Nothing else carries the traffic and nothing answers in between: the bridge's namespace has
  no addresses, IPv6 off, forwarding off; the interfaces are promiscuous; a frame this process
  writes is not read back (``PACKET_IGNORE_OUTGOING``). Checksum-offload and GSO metadata go
  through with each frame (``PACKET_VNET_HDR``), so a frame a local sender left with a partial
  checksum is still valid on the far side (there is no ethtool here to turn offloads off).

What it does not do: loss, rate limits, reordering, duplication (use ``tc tbf`` and nftables
beside it); the delay does not grow with the load (no queueing model: put a rate limit in front
of it for that); the jitter has no correlation between frames. A direction holding more than
``MAX_QUEUED_BYTES`` drops new frames (counted in the summary).

Protocol on stdio: one JSON line once both sockets are bound (``{"ready": true}``); then it
runs until its stdin closes (or SIGTERM/SIGINT, or an interface goes away) and writes one
summary line: per direction (``"A>B"``, ``"B>A"``) ``frames``, ``bytes``, ``dropped`` (queue
full, send failed), ``kernel_drops`` (lost in the receiving socket's buffer), ``held_ms`` and
``late_ms`` percentiles. Needs root (raw sockets) and Linux ≥ 4.20.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

# <linux/if_ether.h>, <linux/if_packet.h>, <asm-generic/socket.h> (not all are in ``socket``)
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_OUTGOING = 4
PACKET_STATISTICS = 6
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35  # also the control message's type (SCM_TIMESTAMPNS)
VNET_HDR_LEN = 10  # struct virtio_net_hdr, before every frame read and written
FRAME_BUFFER = VNET_HDR_LEN + 65536  # a GSO frame can be up to 64 KiB
RCVBUF = 4 << 20
MAX_QUEUED_BYTES = 8 << 20
READS_PER_WAKEUP = 256  # then the other socket and the due frames get their turn
NICE = -10  # the process's priority boost: it is a clock, the processes it carries are not


@dataclass(frozen=True)
class Delay:
    """One-way delay added to each direction: ``ms`` ± ``jitter_ms`` (uniform), order kept.

    ``Delay(75, 15)`` gives a round trip of 150 ms ± 30 ms. ``seed`` makes the draws
    repeatable (None: a fresh seed).
    """

    ms: float = 75.0
    jitter_ms: float = 15.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.jitter_ms <= self.ms:
            raise ValueError(f"need 0 <= jitter_ms <= ms, got {self.jitter_ms} and {self.ms}")


class _Histogram:
    """Milliseconds in 0.1 ms bins: bounded memory however long the link runs."""

    def __init__(self) -> None:
        self.bins: collections.Counter[int] = collections.Counter()

    def add(self, seconds: float) -> None:
        self.bins[round(seconds * 10_000)] += 1

    def summary(self, *percentiles: int) -> dict[str, float]:
        total = sum(self.bins.values())
        if not total:
            return {}
        ordered = sorted(self.bins.items())
        out = {"min": ordered[0][0] / 10, "max": ordered[-1][0] / 10}
        for p in percentiles:
            rank, seen = p / 100 * (total - 1), 0
            for value, count in ordered:
                seen += count
                if seen > rank:
                    out[f"p{p}"] = value / 10
                    break
        return out


class _Direction:
    """Frames read from ``src`` waiting for their time to be written to ``dst``, in order."""

    def __init__(self, name: str, src: socket.socket, dst: socket.socket) -> None:
        self.name, self.src, self.dst = name, src, dst
        self.queue: collections.deque[tuple[float, float, bytes]] = collections.deque()
        self.queued_bytes = 0
        self.last_release = 0.0
        self.frames = self.bytes = self.dropped = 0
        self.held, self.late = _Histogram(), _Histogram()

    def summary(self) -> dict[str, Any]:
        try:  # reading the statistics resets them: once, at the end
            stats = self.src.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            kernel_drops = struct.unpack("II", stats)[1]
        except OSError:
            kernel_drops = None
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "dropped": self.dropped,
            "kernel_drops": kernel_drops,
            "held_ms": self.held.summary(5, 50, 95),
            "late_ms": self.late.summary(50, 99),
        }


def _open(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing until bound
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.bind((interface, ETH_P_ALL))
    sock.setblocking(False)
    return sock


class _Stop(Exception):
    pass


class Bridge:
    """The two sockets and the loop between them (the process body; see the module doc)."""

    def __init__(self, a: str, b: str, delay: Delay) -> None:
        self.delay = delay
        self.rng = random.Random(delay.seed)
        self.sock_a, self.sock_b = _open(a), _open(b)
        self.directions = [
            _Direction(f"{a}>{b}", self.sock_a, self.sock_b),
            _Direction(f"{b}>{a}", self.sock_b, self.sock_a),
        ]

    def _arrival(self, ancillary: list[tuple[int, int, bytes]], now: float) -> float:
        """The frame's kernel receive time on the monotonic clock (``now`` without one)."""
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                sec, nsec = struct.unpack("@qq", data[:16])
                received = float(sec) + float(nsec) / 1e9
                return now - max(0.0, time.time() - received)
        return now

    def _read(self, direction: _Direction) -> bool:
        """Queue what ``direction.src`` has; False once its interface is gone."""
        low = (self.delay.ms - self.delay.jitter_ms) / 1000
        high = (self.delay.ms + self.delay.jitter_ms) / 1000
        for _ in range(READS_PER_WAKEUP):
            try:
                data, ancillary, flags, address = direction.src.recvmsg(
                    FRAME_BUFFER, socket.CMSG_SPACE(16)
                )
            except BlockingIOError:
                return True
            except OSError:  # ENETDOWN, ENXIO: the interface went away
                return False
            if address[2] == PACKET_OUTGOING:  # in case IGNORE_OUTGOING is not honoured
                continue
            if flags & socket.MSG_TRUNC or direction.queued_bytes + len(data) > MAX_QUEUED_BYTES:
                direction.dropped += 1
                continue
            arrival = self._arrival(ancillary, time.monotonic())
            release = max(arrival + self.rng.uniform(low, high), direction.last_release)
            direction.last_release = release
            direction.queue.append((release, arrival, data))
            direction.queued_bytes += len(data)
        return True

    def _write_due(self, now: float) -> None:
        for direction in self.directions:
            queue = direction.queue
            while queue and queue[0][0] <= now:
                release, arrival, data = queue.popleft()
                direction.queued_bytes -= len(data)
                try:
                    direction.dst.send(data)
                except OSError:  # ENOBUFS and the like: the frame is lost
                    direction.dropped += 1
                    continue
                sent = time.monotonic()
                direction.frames += 1
                direction.bytes += len(data) - VNET_HDR_LEN
                direction.held.add(sent - arrival)
                direction.late.add(sent - release)

    def run(self, control: int | None) -> dict[str, Any]:
        """Bridge until ``control`` (a readable fd, e.g. stdin) reaches EOF, a signal, or an
        interface goes away; returns the summary."""
        selector = selectors.DefaultSelector()
        for direction in self.directions:
            selector.register(direction.src, selectors.EVENT_READ, direction)
        if control is not None:
            selector.register(control, selectors.EVENT_READ, None)
        try:
            while True:
                due = [d.queue[0][0] for d in self.directions if d.queue]
                timeout = max(0.0, min(due) - time.monotonic()) if due else None
                for key, _ in selector.select(timeout):
                    if key.data is None:
                        if not os.read(key.fd, 4096):
                            raise _Stop
                    elif not self._read(key.data):
                        raise _Stop
                self._write_due(time.monotonic())
        except _Stop:
            pass
        finally:
            selector.close()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """``{"delay_ms", "jitter_ms", "A>B": {...}, "B>A": {...}}`` (see the module doc)."""
        return {
            "delay_ms": self.delay.ms,
            "jitter_ms": self.delay.jitter_ms,
            **{d.name: d.summary() for d in self.directions},
        }


class DelayLink:
    """The bridge process between interfaces ``a`` and ``b`` of network namespace ``netns``."""

    def __init__(self, netns: str, a: str, b: str, delay: Delay) -> None:
        self.netns, self.a, self.b, self.delay = netns, a, b, delay
        self.proc: subprocess.Popen[bytes] | None = None
        self.summary: dict[str, Any] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the process; returns once it bridges (RuntimeError if it does not)."""
        src = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        argv = [
            *("ip", "netns", "exec", self.netns, sys.executable, "-m", "liveshop.media.delaylink"),
            *(self.a, self.b, "--delay-ms", str(self.delay.ms)),
            *("--jitter-ms", str(self.delay.jitter_ms)),
            *(("--seed", str(self.delay.seed)) if self.delay.seed is not None else ()),
        ]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            line = self.proc.stdout.readline() if selector.select(timeout) else b""
        if not line.startswith(b'{"ready"'):
            self.proc.kill()
            _, err = self.proc.communicate()
            raise RuntimeError(f"delay bridge in {self.netns} did not start: {err.decode()}")

    def stop(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """End the process (idempotent); its summary (None if it gave none)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return self.summary
        try:
            out, _ = proc.communicate(timeout=timeout)  # closes stdin: the bridge stops
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        lines = out.decode().strip().splitlines()
        try:
            self.summary = json.loads(lines[-1]) if lines else None
        except ValueError:
            self.summary = None
        return self.summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("a", help="one interface (no address on it)")
    parser.add_argument("b", help="the other interface")
    parser.add_argument("--delay-ms", type=float, default=75.0, help="one-way delay, each way")
    parser.add_argument("--jitter-ms", type=float, default=15.0, help="± this, uniform")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with contextlib.suppress(OSError):  # ahead of the processes it carries for (root may)
        os.nice(NICE)
    bridge = Bridge(args.a, args.b, Delay(args.delay_ms, args.jitter_ms, args.seed))
    print(json.dumps({"ready": True}), flush=True)
    summary = bridge.run(sys.stdin.fileno())
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
