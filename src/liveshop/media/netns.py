"""Network namespaces that keep test and benchmark media off this machine's own addresses.

Tests and benchmarks send media only over loopback or inside namespaces they create. aiortc can
use loopback (``LIVESHOP_MEDIA_ADDRESSES=127.0.0.1``); Janus (libnice), GStreamer (libnice) and
Chromium cannot, so they run inside a :class:`Namespace`: a network namespace with a veth pair to
the namespace of the caller, ``near`` (10.x, this side) and ``far`` (inside), and a default route
onto its veth (Janus finds its own address by routing towards a public address; without a route
its candidates are 127.0.0.1 and unusable). Peers on this side restrict their ICE host candidates
to ``near``; nothing is sent to the machine's external address.

Needs root (``ip netns``); :func:`problem` says why namespaces cannot be made here. Used by the
tests (``tests/medianet.py``) and ``bench.media``; not by the service.
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
    started with :meth:`command` should be stopped first.
    """

    def __init__(self) -> None:
        tag = secrets.token_hex(4)
        self.name = f"liveshop-{tag}"
        self.near_dev, self.far_dev = f"lsn{tag}", f"lsf{tag}"
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
            _ip("link", "add", self.near_dev, "type", "veth", "peer", "name", self.far_dev)
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
