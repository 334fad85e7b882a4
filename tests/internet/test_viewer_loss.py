"""A viewer on a lossy link: the loss its receiver reports reaches the stats route.

The server and a synthetic publisher run in one namespace, the viewer in another joined by a
veth pair; nftables in the viewer's namespace drops a share of the UDP packets arriving there
(netem is not available here). A clean viewer's zero is checked in tests/internet/test_metrics.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.internet.netns import (
    liveshop_env,
    namespaces,
    need_tool,
    publishing,
    serve_in,
    stop,
)

pytestmark = pytest.mark.slow
SERVER, VIEWER = "10.233.1.1", "10.233.1.2"
URL = f"http://{SERVER}:8000"
DROP_PERCENT = 20
LEAST_PERCENT = 10  # NACKed share of a 20 % drop, with margin for the random drops


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    nft = need_tool("nft", "nftables")
    tmp = tmp_path_factory.mktemp("loss")
    with namespaces() as net:
        srv, viewer = net.ns("s"), net.ns("v")
        net.link(srv, SERVER, viewer, VIEWER)
        for rule in (
            "add table inet loss",
            "add chain inet loss in { type filter hook input priority 0 ; }",
            f"add rule inet loss in meta l4proto udp numgen random mod 100 < {DROP_PERCENT} drop",
        ):
            subprocess.run(net.exec(viewer, nft, *rule.split()), check=True)
        env = liveshop_env(
            tmp / "data",
            LIVESHOP_HOST="0.0.0.0",
            LIVESHOP_PORT="8000",
            LIVESHOP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        )
        procs: list[subprocess.Popen[Any]] = []
        try:
            procs.append(serve_in(net, srv, env, tmp, ADMIN_EMAIL))
            procs.append(publishing(net, srv, env, URL))
            watcher = [sys.executable, "-m", "tests.internet.turn_peer", "watch", URL]
            viewing = subprocess.Popen(
                net.exec(viewer, *watcher, "--seconds=60"),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(viewing)
            reader = [sys.executable, "-m", "tests.internet.turn_peer", "stats", URL]
            out = subprocess.run(
                net.exec(srv, *reader, ADMIN_EMAIL, ADMIN_PASSWORD, str(LEAST_PERCENT)),
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
                check=True,
            )
            yield json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            stop(procs)


def test_a_lossy_viewers_loss_reaches_the_stats(lossy: dict[str, Any]) -> None:
    """With 20 % of its incoming UDP dropped, the viewer's loss (the share it had to ask for
    again, though the server repaired it) reaches at least 10 %."""
    assert lossy["viewers"] == 1
    assert lossy["viewerLossPct"]["p50"] >= LEAST_PERCENT, lossy
