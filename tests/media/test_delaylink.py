"""A namespace link with added delay (``Namespace(delay=...)``, the userspace bridge of
``liveshop.media.delaylink``) against a plain one beside it, measured with a UDP echo inside
each namespace."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from liveshop.media.delaylink import Delay
from liveshop.media.netns import Namespace
from tests.medianet import require_netns

pytestmark = pytest.mark.slow

ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1], flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""


class Echo:
    """A UDP echo process inside ``ns`` and this side's socket towards it."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.proc = subprocess.Popen(
            ns.command(sys.executable, "-c", ECHO, ns.far), stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((ns.near, 0))
        self.sock.settimeout(2.0)

    def round_trip(self) -> float:
        """Seconds for one datagram to come back."""
        sent = time.monotonic()
        self.sock.sendto(b"ping", (self.ns.far, self.port))
        self.sock.recvfrom(2048)
        return time.monotonic() - sent

    def close(self) -> None:
        self.sock.close()
        self.proc.kill()
        self.proc.wait()


@contextmanager
def echo_through(delay: Delay | None) -> Iterator[Echo]:
    """An echo behind a fresh namespace link (``delay`` None: a plain veth pair), past ARP."""
    require_netns()
    with Namespace(delay=delay) as ns:
        echo = Echo(ns)
        try:
            echo.round_trip()  # the first one also resolves the far address (ARP, delayed too)
            yield echo
        finally:
            echo.close()


@pytest.fixture(scope="module")
def delayed() -> Iterator[Echo]:
    """An echo behind 75 ms ± 15 ms each way (150 ms ± 30 ms round trip)."""
    with echo_through(Delay(75, 15)) as echo:
        yield echo


@pytest.fixture(scope="module")
def clean() -> Iterator[Echo]:
    """An echo behind a plain veth pair."""
    with echo_through(None) as echo:
        yield echo


def test_delayed_round_trips_are_150_ms_give_or_take_the_jitter(delayed: Echo) -> None:
    """Every round trip through the delayed link is 150 ± 40 ms, and they vary (jitter)."""
    rtts = [1000 * delayed.round_trip() for _ in range(20)]
    assert all(110 <= rtt <= 190 for rtt in rtts), [round(rtt) for rtt in rtts]
    assert statistics.stdev(rtts) > 4, [round(rtt) for rtt in rtts]


def test_a_plain_link_beside_it_stays_fast(delayed: Echo, clean: Echo) -> None:
    """A plain namespace link next to a delayed one answers in under 20 ms."""
    rtts = [1000 * clean.round_trip() for _ in range(10)]
    assert statistics.median(rtts) < 20, [round(rtt, 1) for rtt in rtts]


def test_a_burst_keeps_its_order(delayed: Echo) -> None:
    """200 datagrams sent back to back come back in the order they were sent."""
    for i in range(200):
        delayed.sock.sendto(str(i).encode(), (delayed.ns.far, delayed.port))
    got: list[int] = []
    try:
        while len(got) < 200:
            got.append(int(delayed.sock.recvfrom(2048)[0]))
    except TimeoutError:
        pass
    assert len(got) >= 190, f"{len(got)} of 200 came back"
    assert got == sorted(got)


def test_the_bridge_reports_what_it_carried() -> None:
    """Once the namespace is deleted, the bridge's summary counts each direction's frames and
    their delay (75 ± 15 ms), nothing dropped."""
    with echo_through(Delay(75, 15)) as echo:
        for _ in range(5):
            echo.round_trip()
        ns = echo.ns
    summary = ns.delay_summary
    assert summary is not None
    a, b = ns.bridge_devs
    for direction in (f"{a}>{b}", f"{b}>{a}"):
        assert summary[direction]["frames"] >= 7  # ARP + 6 datagrams, and IPv6 chatter
        assert summary[direction]["dropped"] == summary[direction]["kernel_drops"] == 0
        assert 60 <= summary[direction]["held_ms"]["p50"] <= 95


def test_a_delay_with_more_jitter_than_delay_is_refused() -> None:
    """Delay(10, 20) would need negative delays: ValueError."""
    with pytest.raises(ValueError):
        Delay(10, 20)
