"""Servers under test for ``bench.fanout``: liveshop (1 or N workers) and the bare reference.

Each is started pinned to its cores with ``taskset``; :meth:`Server.cpu_seconds` is the CPU time
(user + system) of the server's whole process tree, read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, user CPU s, system CPU s) of ``pid`` from /proc/<pid>/stat, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # after "pid (comm) ": state ppid ... utime(14th field overall) stime(15th)
    return int(fields[1]), int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parents[int(entry)] = st[0]
    tree, frontier = [root], [root]
    while frontier:
        nxt = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree.extend(nxt)
        frontier = nxt
    return tree


def tree_cpu(root: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``root`` and its descendants."""
    user = system = 0.0
    for pid in process_tree(root):
        st = _stat(pid)
        if st is not None:
            user, system = user + st[1], system + st[2]
    return user, system


def tree_cpu_seconds(root: int) -> float:
    return sum(tree_cpu(root))


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy (not idle, not waiting for I/O)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``cmd`` (a few milliseconds; fine to call from the event loop)."""
    return subprocess.Popen(cmd, **kwargs)


class Server:
    """A running server: its name, ws URL, show id and how to mint viewer tokens."""

    name: str
    url: str
    show: int
    secret: str
    proc: subprocess.Popen[bytes] | None = None

    def cpu(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the server's processes."""
        assert self.proc is not None
        return tree_cpu(self.proc.pid)

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            for _ in range(100):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                self.proc.kill()
                self.proc.wait()


class BareServer(Server):
    """The reference: ``bench._fanout_bare`` on asyncio's own event loop (``bare``, what a plain
    ``websockets`` server runs on) or on uvloop (``bare-uvloop``, as fast as it gets)."""

    def __init__(self, cpus: str, loop: str = "asyncio") -> None:
        self.name = "bare" if loop == "asyncio" else f"bare-{loop}"
        self.loop = loop
        self.cpus = cpus
        self.secret = "bare-reference-does-not-check-tokens-000"
        self.show = 1
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        root = Path(__file__).resolve().parent.parent
        self.proc = spawn(
            [
                "taskset",
                "-c",
                self.cpus,
                sys.executable,
                "-m",
                "bench._fanout_bare",
                "--port",
                str(self.port),
                "--loop",
                self.loop,
            ],
            cwd=root,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the bare reference server did not start")


class LiveshopServer(Server):
    """``liveshop serve --demo --no-access-log`` on a fresh data directory, with a live show."""

    def __init__(self, cpus: str, workers: int) -> None:
        self.workers = workers
        self.name = "liveshop" if workers == 1 else f"liveshop×{workers}"
        self.cpus = cpus
        self.secret = secrets.token_hex(32)
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.show = 0
        self.data_dir = Path(tempfile.mkdtemp(prefix="liveshop-fanout-"))
        self.redis: subprocess.Popen[bytes] | None = None

    async def _start_redis(self) -> str:
        """A private Redis (own port, no persistence): pub/sub channels are server-wide, so the
        shared one at 6379 could mix our events with someone else's test run."""
        exe = shutil.which("redis-server")
        if exe is None:
            return os.environ.get("FANOUT_REDIS_URL", "redis://127.0.0.1:6379/0")
        port = free_port()
        self.redis = spawn(
            [
                "taskset",
                "-c",
                self.cpus,
                exe,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                return f"redis://127.0.0.1:{port}/0"
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def start(self) -> None:
        env = dict(os.environ)
        env.update(
            LIVESHOP_DATA_DIR=str(self.data_dir),
            LIVESHOP_SECRET_KEY=self.secret,
            LIVESHOP_ENV="development",
            # thousands of load-generator sockets share 127.0.0.1: the per-address budgets (which
            # would rightly refuse them) are off; the fan-out is what this bench measures
            LIVESHOP_ADDRESS_CONNECTS_PER_MINUTE="0",
            LIVESHOP_ADDRESS_CHAT_PER_MINUTE="0",
        )
        if self.workers > 1:
            env["LIVESHOP_REDIS_URL"] = await self._start_redis()
        else:
            env.pop("LIVESHOP_REDIS_URL", None)
        cmd = ["taskset", "-c", self.cpus, sys.executable, "-m", "liveshop.cli", "serve"]
        cmd += ["--demo", "--no-access-log", "--port", str(self.port), "--log-level", "warning"]
        cmd += ["--workers", str(self.workers)]
        self.log = Path(tempfile.gettempdir()) / f"liveshop-fanout-{self.port}.log"
        with self.log.open("wb") as log:
            self.proc = spawn(cmd, env=env, cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{self.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 90
            while True:
                if self.proc.poll() is not None:
                    err = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"liveshop exited:\n{err}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/api/health")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("liveshop did not become healthy")
                await asyncio.sleep(0.2)
            creds = dict(
                line.split(":", 1)
                for line in (self.data_dir / "admin-credentials.txt").read_text().splitlines()
                if ":" in line
            )
            login = await http.post(
                "/api/auth/login",
                json={"email": creds["email"].strip(), "password": creds["password"].strip()},
            )
            login.raise_for_status()
            token = login.json()["accessToken"]
            show = await http.post(
                "/api/livestreams",
                json={"title": "fan-out bench"},
                headers={"Authorization": f"Bearer {token}"},
            )
            show.raise_for_status()
            self.show = int(show.json()["livestream"]["id"])

    async def stop(self) -> None:
        await super().stop()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)
