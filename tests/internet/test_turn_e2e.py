"""TURN over TCP and over TLS with coturn (use-auth-secret): a viewer whose network drops every UDP
packet plays through the relay; without TURN it cannot; credentials are checked and expire."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.internet.netns import (
    Net,
    liveshop_env,
    namespaces,
    need_tool,
    publishing,
    self_signed,
    serve_in,
    stop,
)

pytestmark = pytest.mark.slow
SERVER_VIEWER, VIEWER = "10.232.1.1", "10.232.1.2"  # HTTP (TCP) reaches the server directly
TURN_LISTEN, VIEWER_TO_TURN = "10.232.2.1", "10.232.2.2"
SERVER_RELAY, TURN_RELAY = "10.232.3.1", "10.232.3.2"
TLS_PORT = 5349
SECRET = "turn-e2e-" + "t" * 32
URL = f"http://{SERVER_VIEWER}:8000"


@dataclass
class Setup:
    net: Net
    viewer_ns: str
    env: dict[str, str]
    tls_cert: Path


def coturn_config(directory: Path) -> Path:
    """The TURN REST API settings of deploy/turnserver.conf, on the test's addresses: TCP on 3478
    and TLS on 5349 (the deploy kit's ports), private peers allowed."""
    cert, key = self_signed(directory, TURN_LISTEN)
    conf = directory / "turnserver.conf"
    conf.write_text(
        "\n".join(
            (
                f"listening-ip={TURN_LISTEN}",
                "listening-port=3478",
                f"tls-listening-port={TLS_PORT}",
                f"cert={cert}",
                f"pkey={key}",
                f"relay-ip={TURN_RELAY}",
                "use-auth-secret",
                f"static-auth-secret={SECRET}",
                "realm=shop.test",
                "fingerprint",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                f"userdb={directory / 'turndb'}",
                f"pidfile={directory / 'turnserver.pid'}",
                "simple-log",
                "",
            )
        )
    )
    return conf


def run_peer(env: dict[str, str], command: list[str], timeout: float = 90) -> dict[str, object]:
    out = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    print(out.stderr[-5000:])  # shown when the test fails
    return result


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    turnserver = need_tool("turnserver", "coturn")
    nft = need_tool("nft", "nftables")
    tmp = tmp_path_factory.mktemp("turn")
    with namespaces() as net:
        srv, viewer, relay = net.ns("s"), net.ns("v"), net.ns("t")
        net.link(srv, SERVER_VIEWER, viewer, VIEWER)
        net.link(relay, TURN_LISTEN, viewer, VIEWER_TO_TURN)
        net.link(srv, SERVER_RELAY, relay, TURN_RELAY)
        net.default_route(viewer, SERVER_VIEWER)
        net.default_route(relay, SERVER_RELAY)  # coturn reaches every address of the media server
        # the viewer's network blocks UDP entirely
        for rule in (
            "add table inet block",
            "add chain inet block out { type filter hook output priority 0 ; }",
            "add chain inet block in { type filter hook input priority 0 ; }",
            "add rule inet block out meta l4proto udp drop",
            "add rule inet block in meta l4proto udp drop",
        ):
            subprocess.run(net.exec(viewer, nft, *rule.split()), check=True)
        env = liveshop_env(
            tmp / "data",
            LIVESHOP_HOST="0.0.0.0",
            LIVESHOP_PORT="8000",
            LIVESHOP_TURN_URLS=(
                f"turn:{TURN_LISTEN}:3478?transport=tcp,turns:{TURN_LISTEN}:{TLS_PORT}?transport=tcp"
            ),
            LIVESHOP_TURN_SECRET=SECRET,
            LIVESHOP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        )
        procs: list[subprocess.Popen[Any]] = [
            subprocess.Popen(
                net.exec(
                    relay,
                    turnserver,
                    "-c",
                    str(coturn_config(tmp)),
                    "--no-stdout-log",
                    "-l",
                    str(tmp / "turn.log"),
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        ]
        try:
            procs.append(serve_in(net, srv, env, tmp, ADMIN_EMAIL))
            procs.append(publishing(net, srv, env, URL))
            yield Setup(net, viewer, env, tmp / "cert.pem")
        finally:
            stop(procs)


def test_viewer_behind_udp_block_plays_through_turn_over_tcp(setup: Setup) -> None:
    """With UDP dropped, the viewer receives the show's frames through coturn over TCP."""
    result = run_peer(
        setup.env,
        setup.net.exec(
            setup.viewer_ns, sys.executable, "-m", "tests.internet.turn_peer", "watch", URL
        ),
    )
    assert result == {"frames": 10, "state": "connected"}


def test_viewer_behind_udp_block_plays_through_turn_over_tls(setup: Setup) -> None:
    """With UDP dropped and only the ``turns:`` URL kept, the viewer's relay runs over TLS to
    coturn's TLS listener (certificate checked) and its frames arrive."""
    env = setup.env | {"SSL_CERT_FILE": str(setup.tls_cert)}
    command = setup.net.exec(
        setup.viewer_ns,
        sys.executable,
        "-m",
        "tests.internet.turn_peer",
        "watch",
        URL,
        "--only=turns",
    )
    assert run_peer(env, command) == {"frames": 10, "state": "connected"}


def test_turn_over_tls_refuses_an_untrusted_certificate(setup: Setup) -> None:
    """Without the certificate trusted the TLS relay cannot be set up: the check is real."""
    command = setup.net.exec(
        setup.viewer_ns,
        sys.executable,
        "-m",
        "tests.internet.turn_peer",
        "watch",
        URL,
        "--only=turns",
    )
    result = run_peer(setup.env, command)
    assert result["frames"] == 0 and result["state"] == "failed"


def test_the_same_viewer_without_turn_fails(setup: Setup) -> None:
    """Without the TURN server the same viewer gets no media: the UDP block really bites."""
    command = setup.net.exec(
        setup.viewer_ns, sys.executable, "-m", "tests.internet.turn_peer", "watch", URL, "--no-turn"
    )
    result = run_peer(setup.env, command)
    assert result["frames"] == 0 and result["state"] == "failed"


def test_turn_credentials_are_verified_and_expire(setup: Setup) -> None:
    """coturn allocates with a minted credential, refuses it once expired, and refuses a forged one."""
    command = setup.net.exec(
        setup.viewer_ns, sys.executable, "-m", "tests.internet.turn_peer", "allocate", URL, SECRET
    )
    result = run_peer(setup.env, command)
    assert result["fresh"] == "allocated"
    assert str(result["expired"]).startswith("refused") and str(result["forged"]).startswith(
        "refused"
    )
