"""Network namespaces that keep test and benchmark media off this machine's own addresses.

Tests and benchmarks send media only over loopback or inside namespaces they create. aiortc can
use loopback (``LIVESHOP_MEDIA_ADDRESSES=127.0.0.1``); Janus (libnice), GStreamer (libnice) and
Chromium cannot, so they run inside a :class:`Namespace`: a network namespace with a veth pair to
the namespace of the caller, ``near`` (10.x, this side) and ``far`` (inside), and a default route
onto its veth (Janus finds its own address by routing towards a public address; without a route
its candidates are 127.0.0.1 and unusable). Peers on this side restrict their ICE host candidates
to ``near``; nothing is sent to the machine's external address.

``Namespace(delay=Delay(75, 15))`` adds delay and jitter to the link (netem is not available
here): the veth pair becomes two, joined by :mod:`liveshop.media.delaylink`'s bridge process in a
third namespace of its own (``near`` ─ bridge ─ ``far``; same addresses, devices and commands as
without the delay, so ``tc`` on ``near_dev`` and nftables inside work as before).

Needs root (``ip netns``); :func:`problem` says why namespaces cannot be made here. Used by the
tests (``tests/medianet.py``), ``bench.media`` and ``bench.network``; not by the service.
"""

from __future__ import annotations

import functools
import ipaddress
import random
import secrets
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from liveshop.media.delaylink import Delay, DelayLink

# test addresses: 10.200.0.0/30 ... 10.249.255.252/30, picked at random, skipping any in use
_FIRST, _LAST = 200, 249


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


@functools.cache
def problem() -> str | None:
    """None when network namespaces can be made here, else why not (once per process)."""
    probe = f"liveshop-probe-{secrets.token_hex(4)}"
    try:
        made = _ip("netns", "add", probe, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns` is unusable: {exc}"
    if made.returncode != 0:
        return f"`ip netns add` failed (needs root): {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def _used_prefixes() -> set[str]:
    out = _ip("-4", "-o", "addr", "show").stdout
    return {
        ".".join(word.split("/")[0].split(".")[:3]) for word in out.split() if word[:3] == "10."
    }


class Namespace:
    """A network namespace joined to this one by a veth pair (``near`` here, ``far`` inside).

    ``with Namespace() as ns:`` creates it and deletes it (and its veth pair) on exit; processes
    started with :meth:`command` should be stopped first. With ``delay``, every frame between
    ``near`` and ``far`` goes through a :class:`~liveshop.media.delaylink.DelayLink` in the
    namespace ``bridge`` (``near_dev`` ─ ``bridge_devs`` ─ ``far_dev``); :attr:`delay_summary`
    holds what it reported once the namespace is deleted.
    """

    def __init__(self, delay: Delay | None = None) -> None:
        tag = secrets.token_hex(4)
        self.name = f"liveshop-{tag}"
        self.near_dev, self.far_dev = f"lsn{tag}", f"lsf{tag}"
        self.delay = delay
        self.bridge = f"liveshop-{tag}-delay"
        self.bridge_devs = (f"lsa{tag}", f"lsb{tag}")  # peers of near_dev and far_dev
        self.delay_link: DelayLink | None = None
        self.delay_summary: dict[str, Any] | None = None
        used = _used_prefixes()
        while True:
            prefix = f"10.{random.randint(_FIRST, _LAST)}.{random.randint(0, 255)}"
            if prefix not in used:
                break
        self.near, self.far = f"{prefix}.1", f"{prefix}.2"
        self.created = False

    def create(self) -> Namespace:
        _ip("netns", "add", self.name)
        self.created = True
        try:
            inside = ("-n", self.name)
            if self.delay is None:
                _ip("link", "add", self.near_dev, "type", "veth", "peer", "name", self.far_dev)
            else:
                self._bridge(self.delay)
            _ip("link", "set", self.far_dev, "netns", self.name)
            # no duplicate-address detection on the pair (nothing else is on the link): the
            # IPv6 link-local addresses are final at link-up, instead of changing a second later
            Path(f"/proc/sys/net/ipv6/conf/{self.near_dev}/accept_dad").write_text("0")
            far_dad = f"net.ipv6.conf.{self.far_dev}.accept_dad"
            _ip("netns", "exec", self.name, "sysctl", "-q", "-w", f"{far_dad}=0")
            _ip("addr", "add", f"{self.near}/30", "dev", self.near_dev)
            _ip(*inside, "addr", "add", f"{self.far}/30", "dev", self.far_dev)
            _ip("link", "set", self.near_dev, "up")
            _ip(*inside, "link", "set", "lo", "up")
            _ip(*inside, "link", "set", self.far_dev, "up")
            _ip(*inside, "route", "add", "default", "dev", self.far_dev)
            self._settle()
        except subprocess.CalledProcessError as exc:
            self.delete()
            raise RuntimeError(f"could not set up {self.name}: {exc.stderr.strip()}") from exc
        return self

    def _bridge(self, delay: Delay) -> None:
        """``near_dev`` ─ a ─ [bridge namespace: the delay process] ─ b ─ ``far_dev`` (left in
        this namespace for :meth:`create` to move). The bridge namespace has no addresses, no
        IPv6 and no forwarding: only the bridge process carries frames across it."""
        a, b = self.bridge_devs
        _ip("netns", "add", self.bridge)
        self.delay_link = DelayLink(self.bridge, a, b, delay)
        _ip("netns", "exec", self.bridge, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0",
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")  # fmt: skip
        _ip("link", "add", self.near_dev, "type", "veth", "peer", "name", a)
        _ip("link", "add", b, "type", "veth", "peer", "name", self.far_dev)
        for dev in (a, b):
            _ip("link", "set", dev, "netns", self.bridge)
            _ip("-n", self.bridge, "link", "set", dev, "promisc", "on", "up")
        try:
            self.delay_link.start()
        except RuntimeError as exc:
            raise subprocess.CalledProcessError(1, "delaylink", stderr=str(exc)) from exc

    def _settle(self, timeout: float = 5.0) -> None:
        """Wait until no IPv6 address of the pair is tentative (with detection off, at once):
        Chromium, seeing an address change, fails every request in flight with
        ERR_NETWORK_CHANGED, so a page must not start loading before."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inside = _ip("-n", self.name, "-6", "addr", "show", "tentative", check=False).stdout
            near = _ip("-6", "addr", "show", "dev", self.near_dev, "tentative", check=False).stdout
            if not inside.strip() and not near.strip():
                return
            time.sleep(0.05)

    def delete(self) -> None:
        """Remove the namespace and its veth pair (idempotent)."""
        if not self.created:
            return
        self.created = False
        if self.delay_link is not None:
            self.delay_summary = self.delay_link.stop()
            self.delay_link = None
            _ip("netns", "del", self.bridge, check=False)  # takes both bridge devices with it
        _ip("link", "del", self.near_dev, check=False)  # takes the far end with it
        _ip("netns", "del", self.name, check=False)

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def contains(self, address: str) -> bool:
        """True for ``near`` and ``far``."""
        return ipaddress.ip_address(address) in ipaddress.ip_network(
            f"{self.near}/30", strict=False
        )

    def __enter__(self) -> Namespace:
        return self.create()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.delete()
