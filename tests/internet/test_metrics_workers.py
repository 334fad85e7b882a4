"""Prometheus metrics under ``serve --workers 2``: the parent's metrics port sums what every
worker counted (prometheus-client's multiprocess mode), not one worker's share."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REDIS_HOST, REDIS_PORT, require
from tests.medianet import subprocess_env
from tests.processes import free_port
from tests.waiting import until, until_sync

pytestmark = [pytest.mark.redis, pytest.mark.slow]
WORKERS = 2


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and set(labels.items()) <= set(s.labels.items())
    )


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (uvicorn's workers, and multiprocessing's helpers)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def server_side_inode(server_port: int, client_port: int) -> str:
    """The inode of the accepted socket for the loopback connection from ``client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":"), fields[2].split(":")
        if int(local[1], 16) == server_port and int(remote[1], 16) == client_port:
            return fields[9]
    raise AssertionError(f"no server socket for the connection from port {client_port}")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """``liveshop serve --workers 2`` on SQLite + Redis with LIVESHOP_METRICS_PORT; its
    process, base URL and metrics URL."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    env |= subprocess_env(
        {
            "LIVESHOP_DATA_DIR": str(tmp_path / "data"),
            "LIVESHOP_SECRET_KEY": "metrics-workers-" + uuid.uuid4().hex + uuid.uuid4().hex,
            "LIVESHOP_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            "LIVESHOP_REDIS_PREFIX": f"m{uuid.uuid4().hex[:8]}:",
            "LIVESHOP_METRICS_PORT": str(metrics_port),
            "LIVESHOP_MP4_REPLAYS": "false",
        }
    )
    serve = [sys.executable, "-m", "liveshop.cli", "serve", "--workers", str(WORKERS)]
    proc = subprocess.Popen(
        [*serve, "--port", str(port), "--no-access-log"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "stderr.log").read_text()[-3000:]
        try:
            return httpx.get(f"{base}/api/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        until_sync(ready, timeout=90, interval=0.2, message="serve --workers 2 to start")
        yield proc, base, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_the_metrics_port_sums_every_workers_figures(
    workers: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    """Sockets held by both workers are all counted as open; every worker's HTTP requests are in
    the total; closed sockets leave the gauge."""
    proc, base, metrics_url = workers
    port = int(base.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=base, timeout=30) as http, AsyncExitStack() as stack:
        token = (await http.post("/api/auth/guest")).json()["accessToken"]
        sockets: list[Any] = []
        holders: set[int] = set()
        # open sockets until both workers hold some (the kernel hands each to either)
        while len(holders) < WORKERS:
            assert len(sockets) < 200, "every socket went to one worker"
            ws = await stack.enter_async_context(
                websockets.connect(f"{base.replace('http', 'ws')}/ws?token={token}")
            )
            await ws.send('{"type": "ping"}')
            await ws.recv()
            sockets.append(ws)
            inode = server_side_inode(port, ws.local_address[1])
            holders |= {pid for pid in children(proc.pid) if inode in socket_inodes(pid)}
        requests = 20
        for _ in range(requests):  # a connection each, so both workers answer some
            async with httpx.AsyncClient(base_url=base) as once:
                assert (await once.get("/api/config")).status_code == 200
        async with httpx.AsyncClient(timeout=10) as scraper:
            text = (await scraper.get(metrics_url)).text
            assert metric(text, "liveshop_websocket_connections") == len(sockets)
            assert metric(text, "liveshop_websocket_connections_opened_total") == len(sockets)
            answered = metric(
                text, "liveshop_http_requests_total", route="/api/config", status="200"
            )
            assert answered == requests
            for ws in sockets:
                await ws.close()

            async def all_closed() -> bool:
                text = (await scraper.get(metrics_url)).text
                return metric(text, "liveshop_websocket_connections") == 0

            await until(all_closed, timeout=10, message="the closed sockets to leave the gauge")
