"""Real ``liveshop serve`` processes for the multi-process tests (hub and janus mode)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    def __init__(self, popen: subprocess.Popen[bytes], port: int) -> None:
        self.popen, self.port = popen, port
        self.url = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/ws"


@contextmanager
def serve(
    env: dict[str, str],
    root: Path,
    names: tuple[str, ...] = ("a", "b"),
    args: tuple[str, ...] = (),
    env_of: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[list[Proc]]:
    """One ``liveshop serve`` per name (own port and data directory under ``root``, stderr in
    ``root/<name>/stderr.log``), yielded once each answers health with the Redis broker; stopped
    (terminate, then kill) on exit. ``args`` are extra ``serve`` arguments (e.g. ``--workers``);
    ``env_of[name]`` adds to that process's environment."""
    procs = []
    for name in names:
        port = free_port()
        (root / name).mkdir()
        popen = subprocess.Popen(
            [
                *(sys.executable, "-m", "liveshop.cli", "serve", "--port", str(port)),
                *("--no-access-log", *args),
            ],
            cwd=root / name,
            env={
                **env,
                "LIVESHOP_DATA_DIR": str(root / name / "data"),
                **(env_of or {}).get(name, {}),
            },
            stdout=subprocess.DEVNULL,
            stderr=(root / name / "stderr.log").open("wb"),
        )
        procs.append(Proc(popen, port))
    try:
        for proc in procs:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{proc.url}/api/health", timeout=1).json()["broker"] == "redis":
                        break
                except (httpx.TransportError, ValueError, KeyError):
                    pass
                assert proc.popen.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.terminate()
                try:
                    proc.popen.wait(10)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
