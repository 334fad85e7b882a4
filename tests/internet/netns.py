"""Network namespaces for the internet tests: every packet stays inside namespaces the test
creates (10.231.x.y addresses), never towards this machine's external address."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CI


def need(condition: bool, message: str) -> None:
    """Skip (fail under CI=true) when the machine lacks what a test needs."""
    if condition:
        return
    if CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def need_tool(name: str, package: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    need(path is not None, f"{name} is missing (Debian's {package}: `make internet-tools`)")
    assert path is not None
    return path


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@dataclass
class Net:
    """Namespaces joined by veth pairs; :meth:`exec` prefixes a command to run inside one."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    names: list[str] = field(default_factory=list)

    def ns(self, short: str) -> str:
        name = f"ls{self.tag}{short}"
        sh("ip", "netns", "add", name)
        self.names.append(name)
        # no duplicate-address detection on the links made in it (nothing else is on them): IPv6
        # link-local addresses are final at link-up instead of changing a second later, which
        # Chromium answers by failing requests in flight (ERR_NETWORK_CHANGED)
        sh(*self.exec(name, "sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0"))
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def link(self, a: str, a_addr: str, b: str, b_addr: str, prefix: int = 24) -> None:
        """A veth pair from namespace ``a`` (``a_addr``) to ``b`` (``b_addr``)."""
        ia, ib = f"v{self.tag}{len(self.names)}{a[-1]}", f"v{self.tag}{len(self.names)}{b[-1]}"
        sh("ip", "link", "add", ia, "netns", a, "type", "veth", "peer", "name", ib, "netns", b)
        for ns, dev, addr in ((a, ia, a_addr), (b, ib, b_addr)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/{prefix}", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        self.names.append("")  # keeps device names unique

    def default_route(self, ns: str, via: str) -> None:
        sh("ip", "-n", ns, "route", "add", "default", "via", via)

    @staticmethod
    def exec(ns: str, *command: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *command]

    def close(self) -> None:
        for name in self.names:
            if name:
                subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@contextmanager
def namespaces() -> Iterator[Net]:
    need(os.geteuid() == 0, "network namespaces need root")
    need_tool("ip", "iproute2")
    net = Net()
    try:
        yield net
    finally:
        net.close()


def chromium_in(ns: str, directory: Path) -> Path:
    """A wrapper Playwright can launch as its browser: Debian's Chromium inside ``ns``."""
    wrapper = directory / f"chromium-{ns}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


ROOT = Path(__file__).resolve().parents[2]


def liveshop_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``liveshop`` child: this checkout on its path, none of the caller's
    ``LIVESHOP_*`` settings, a data directory and a signing key, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH")) if p
    )
    env |= {
        "LIVESHOP_DATA_DIR": str(data_dir),
        "LIVESHOP_SECRET_KEY": "internet-tests-signing-" + "k" * 40,
        **settings,
    }
    return env


def serve_in(
    net: Net, ns: str, env: dict[str, str], cwd: Path, admin_email: str
) -> subprocess.Popen[bytes]:
    """Create the admin (password ``LIVESHOP_ADMIN_PASSWORD`` of ``env``), start ``liveshop
    serve`` inside ``ns`` and return once it has started (its log is ``cwd/liveshop.log``)."""
    subprocess.run(
        [sys.executable, "-m", "liveshop.cli", "create-admin", "--email", admin_email],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    log = cwd / "liveshop.log"
    process = subprocess.Popen(
        net.exec(ns, sys.executable, "-m", "liveshop.cli", "serve"),
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while "Application startup complete" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "liveshop did not start"
        time.sleep(0.1)
    return process


def stop(processes: list[subprocess.Popen[Any]]) -> None:
    """Stop ``processes`` in reverse order (close stdin, TERM, then KILL after 15 s)."""
    for proc in reversed(processes):
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def publishing(net: Net, ns: str, env: dict[str, str], url: str) -> subprocess.Popen[str]:
    """A synthetic publisher (tests/internet/turn_peer.py ``publish``) inside ``ns``, logged in
    as the admin of ``env`` (``tests.conftest.ADMIN_*``); returns once its show is live. Closing
    its stdin stops it."""
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    publisher = subprocess.Popen(
        net.exec(
            ns,
            sys.executable,
            "-m",
            "tests.internet.turn_peer",
            "publish",
            url,
            ADMIN_EMAIL,
            ADMIN_PASSWORD,
        ),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert publisher.stdout is not None
    assert publisher.stdout.readline().startswith("live "), "the publisher did not go live"
    return publisher


def self_signed(directory: Path, address: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for the IP ``address`` (its own CA, so a client can trust it alone) and its
    key, as PEM files ``cert.pem`` and ``key.pem`` in ``directory``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
