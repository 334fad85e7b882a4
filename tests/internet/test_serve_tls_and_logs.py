"""`liveshop serve` with its own TLS certificate, and JSON logs."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.internet.netns import self_signed
from tests.processes import free_port


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    return env | {"LIVESHOP_DATA_DIR": str(tmp_path / "data")}


def wait_healthy(url: str, proc: subprocess.Popen[bytes], verify: object = True) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(f"{url}/api/health", verify=verify, timeout=2)  # type: ignore[arg-type]
        except httpx.TransportError:
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "liveshop.cli", "serve", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "stderr.log").open("wb"),
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(15)


def test_serve_speaks_https_with_the_given_certificate(tmp_path: Path, serve: object) -> None:
    """--ssl-certfile/--ssl-keyfile serve HTTPS; the certificate verifies; no server banner."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    args = ["--port", str(port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    proc = serve(args, base_env(tmp_path))  # type: ignore[operator]
    r = wait_healthy(f"https://127.0.0.1:{port}", proc, ssl.create_default_context(cafile=cert))
    assert r.status_code == 200 and "server" not in r.headers
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_json_log_format_writes_one_object_per_line(tmp_path: Path, serve: object) -> None:
    """LIVESHOP_LOG_FORMAT=json: every stderr line is JSON; access lines name client and status."""
    port = free_port()
    env = base_env(tmp_path) | {"LIVESHOP_LOG_FORMAT": "json"}
    proc = serve(["--port", str(port)], env)  # type: ignore[operator]
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    httpx.get(f"http://127.0.0.1:{port}/api/config?token=secret-value")
    proc.terminate()
    proc.wait(15)
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    config = [e for e in access if e["path"].startswith("/api/config")]
    assert config and config[0]["client"] == "127.0.0.1" and config[0]["status"] == 200
    assert "secret-value" not in "\n".join(lines)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
