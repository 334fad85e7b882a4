"""Read-path API benchmark (run as ``python -m bench.api``).

``GET /api/livestreams/active`` and ``GET /api/products`` under 50 concurrent keep-alive clients:
requests/s, p50 and p99 for liveshop and for a bare Starlette app that answers the same JSON bytes,
measured in the same run. The target is liveshop ≥ 0.5 x the bare reference's requests/s.

Set-up, all in a temporary directory removed at the end (also on Ctrl-C):

* liveshop runs the real ``liveshop serve --demo`` code path (``liveshop.cli.main``: migrations,
  first-run admin, demo catalogue, ``create_app``, ``uvicorn.run``) in a subprocess on the first
  CPU, on SQLite, with one change: ``uvicorn.run`` gets ``access_log=False`` because the CLI has no
  flag for it (``--access-log`` keeps it on, as plain ``liveshop serve`` does);
* the bench logs in as the generated admin, starts a show and pins 3 products, then fetches the
  exact bytes of both endpoints;
* the bare reference (``bench._bare_api``) is Starlette on the same uvicorn settings (auto loop and
  http, i.e. uvloop + httptools when installed), also on the first CPU, serving those bytes;
* the load generator (``bench._http_load``) runs in its own process on the second CPU.

Each (endpoint, server) row is measured for ``--seconds`` seconds in total, split into ``--rounds``
load-generator runs (each after its own ``--warmup``), liveshop and bare alternating so that a noisy
moment on the shared machine hits both. Only ratios are meaningful; absolute numbers drift.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from bench._http_load import percentile

ENDPOINTS = ("/api/livestreams/active", "/api/products")
TARGET = 0.5
PINNED = 3
HOST = "127.0.0.1"
SERVE_LIVESHOP = "_serve-liveshop"  # internal sub-command: the liveshop server process
ROOT = Path(__file__).resolve().parent.parent  # holds the bench package


# --- the liveshop server process ----------------------------------------------------------------


def serve_liveshop(argv: Sequence[str]) -> int:
    """Run ``liveshop serve`` (``argv`` are its arguments) with the uvicorn access log off unless
    ``--access-log`` comes first. Everything else is the CLI's own code path."""
    import functools

    import uvicorn

    from liveshop import cli

    args = list(argv)
    if args[:1] == ["--access-log"]:
        args = args[1:]
    else:
        uvicorn.run = functools.partial(uvicorn.run, access_log=False)
    return cli.main(args)


# --- processes ----------------------------------------------------------------------------------


def _pin(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """Every child process, stopped (TERM, then KILL) when the context exits, however it exits."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        args: Sequence[str],
        *,
        cpu: int | None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdout: Any = subprocess.DEVNULL,
        stderr: Any = subprocess.STDOUT,
    ) -> subprocess.Popen[bytes]:
        env = dict(os.environ if env is None else env)
        # children import bench.* whatever their working directory
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            list(args),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=_pin(cpu),
            start_new_session=True,  # Ctrl-C reaches only the bench, which stops them in order
        )
        self.children.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.children:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        deadline = time.monotonic() + 5.0
        for process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def http(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"{server.name} exited ({server.process.returncode}):\n{server.tail()}"
            )
        with contextlib.suppress(OSError):
            status, _ = http("GET", server.base + path, timeout=2.0)
            if status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{server.name} not ready after {timeout:.0f} s:\n{server.tail()}")


def expect(status: int, body: bytes, what: str, ok: int = 200) -> Any:
    if status != ok:
        raise SystemExit(f"{what}: HTTP {status} {body[:300]!r}")
    return json.loads(body)


# --- set-up ---------------------------------------------------------------------------------------


def liveshop_env(data_dir: Path) -> dict[str, str]:
    """The inherited environment without any LIVESHOP_* setting (no stray database or Redis URL),
    plus a fresh data directory and secret key, in production mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    env.update(
        LIVESHOP_DATA_DIR=str(data_dir),
        LIVESHOP_SECRET_KEY=secrets.token_urlsafe(48),
        LIVESHOP_ENV="production",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_liveshop(
    procs: Processes, work: Path, cpu: int | None, access_log: bool
) -> tuple[Server, Path]:
    data_dir = work / "data"
    port = free_port()
    log = work / "liveshop.log"
    args = [sys.executable, "-m", "bench.api", SERVE_LIVESHOP]
    if access_log:
        args.append("--access-log")
    args += ["serve", "--demo", "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        # cwd is the empty work directory, so no stray .env file is read
        process = procs.start(args, cpu=cpu, env=liveshop_env(data_dir), cwd=work, stdout=out)
    server = Server("liveshop", port, process, log)
    wait_ready(server, "/api/health")
    return server, data_dir


def start_show(server: Server, data_dir: Path) -> None:
    """Log in as the first-run admin, start a show and pin the first products of the catalogue."""
    fields = dict(
        line.split(": ", 1)
        for line in (data_dir / "admin-credentials.txt").read_text().splitlines()
        if ": " in line
    )
    status, body = http(
        "POST",
        server.base + "/api/auth/login",
        {"email": fields["email"], "password": fields["password"]},
    )
    token = expect(status, body, "login")["accessToken"]
    status, body = http("POST", server.base + "/api/livestreams", {"title": "Bench show"}, token)
    show = expect(status, body, "start a show", ok=201)["livestream"]["id"]
    status, body = http("GET", server.base + "/api/products")
    products = expect(status, body, "list products")["products"]
    for product in products[:PINNED]:
        status, body = http(
            "POST",
            f"{server.base}/api/livestreams/{show}/pin-product",
            {"productId": product["id"]},
            token,
        )
        expect(status, body, "pin a product")


def fetch_bodies(server: Server) -> dict[str, bytes]:
    bodies: dict[str, bytes] = {}
    for path in ENDPOINTS:
        status, body = http("GET", server.base + path)
        expect(status, body, f"GET {path}")
        bodies[path] = body
    active = json.loads(bodies["/api/livestreams/active"])["livestream"]
    if not active or len(active.get("pinnedProducts", [])) != PINNED:
        raise SystemExit(f"unexpected active show: {bodies['/api/livestreams/active'][:300]!r}")
    return bodies


def start_bare(
    procs: Processes, work: Path, bodies: dict[str, bytes], cpu: int | None, access_log: bool
) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "bench._bare_api", "--host", HOST, "--port", str(port)]
    for index, (path, body) in enumerate(bodies.items()):
        file = work / f"body-{index}.json"
        file.write_bytes(body)
        args += ["--route", f"{path}={file}"]
    if access_log:
        args.append("--access-log")
    log = work / "bare.log"
    with log.open("wb") as out:
        process = procs.start(args, cpu=cpu, stdout=out)
    server = Server("bare", port, process, log)
    wait_ready(server, ENDPOINTS[0])
    return server


# --- measuring ------------------------------------------------------------------------------------


def measure(
    procs: Processes,
    server: Server,
    path: str,
    body: bytes,
    args: argparse.Namespace,
    cpu: int | None,
    latency_file: Path,
) -> dict[str, Any]:
    """One load-generator run (warm-up, then ``seconds / rounds`` measured)."""
    command = [
        sys.executable,
        "-m",
        "bench._http_load",
        "--host",
        HOST,
        "--port",
        str(server.port),
        "--path",
        path,
        "--connections",
        str(args.connections),
        "--warmup",
        str(args.warmup),
        "--seconds",
        str(args.seconds / args.rounds),
        "--expected-length",
        str(len(body)),
        "--latency-file",
        str(latency_file),
    ]
    process = procs.start(command, cpu=cpu, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=args.warmup + args.seconds + 60)
    if process.returncode != 0:
        raise SystemExit(f"load generator failed ({process.returncode}):\n{err.decode()}")
    if server.process.poll() is not None:
        raise SystemExit(f"{server.name} died during the run:\n{server.tail()}")
    result: dict[str, Any] = json.loads(out)
    if not result["requests"]:
        raise SystemExit(
            f"no answer from {server.name} {path}: {result['firstError']}\n{err.decode()[-2000:]}"
        )
    return result


def combine(runs: list[dict[str, Any]], latency_files: list[Path]) -> dict[str, Any]:
    """Merge the rounds of one (server, endpoint): totals over time, percentiles over all answers."""
    latencies = array("d")
    for file in latency_files:
        latencies.frombytes(file.read_bytes())
    ordered = sorted(latencies)
    seconds = sum(r["seconds"] for r in runs)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / seconds,
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "errors": sum(r["errors"] for r in runs),
        "warmupErrors": sum(r["warmupErrors"] for r in runs),
        "firstError": next((r["firstError"] for r in runs if r["firstError"]), ""),
        "clientCpu": max(r["clientCpu"] for r in runs),
        "roundRps": [r["rps"] for r in runs],
    }


def print_report(
    results: dict[tuple[str, str], dict[str, Any]], bodies: dict[str, bytes]
) -> list[bool]:
    header = (
        f"{'server':<9} {'endpoint':<24} {'bytes':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'client cpu':>10}  req/s per round"
    )
    print(header)
    print("-" * len(header))
    for path in ENDPOINTS:
        for name in ("liveshop", "bare"):
            r = results[(name, path)]
            print(
                f"{name:<9} {path:<24} {len(bodies[path]):>6} {r['rps']:>8.0f} "
                f"{r['p50'] * 1e3:>7.2f} {r['p99'] * 1e3:>7.2f} {r['errors']:>6} "
                f"{r['clientCpu']:>10.0%}  {' '.join(f'{x:.0f}' for x in r['roundRps'])}"
            )
    print()
    header = (
        f"{'endpoint':<24} {'req/s liveshop/bare':>19} {'p99 bare/liveshop':>17}   "
        f"target req/s ratio ≥ {TARGET}"
    )
    print(header)
    print("-" * len(header))
    passed: list[bool] = []
    for path in ENDPOINTS:
        live, bare = results[("liveshop", path)], results[("bare", path)]
        rps_ratio = live["rps"] / bare["rps"] if bare["rps"] else 0.0
        p99_ratio = bare["p99"] / live["p99"] if live["p99"] else 0.0
        ok = rps_ratio >= TARGET
        passed.append(ok)
        print(f"{path:<24} {rps_ratio:>19.2f} {p99_ratio:>17.2f}   {'PASS' if ok else 'MISS'}")
    for (name, path), r in results.items():
        if r["errors"] or r["warmupErrors"]:
            print(
                f"warning: {name} {path}: {r['errors']} errors ({r['warmupErrors']} in warm-up), "
                f"first: {r['firstError']}"
            )
        if r["clientCpu"] > 0.9:
            print(f"warning: {name} {path}: the load generator was near 100 % CPU (client-bound)")
    return passed


def describe(args: argparse.Namespace, server_cpu: int | None, client_cpu: int | None) -> None:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    proto = "httptools" if importlib.util.find_spec("httptools") else "h11"
    pinning = (
        f"servers on CPU {server_cpu}, load generator on CPU {client_cpu}"
        if server_cpu is not None
        else "no CPU pinning (fewer than 2 CPUs available)"
    )
    access = "on (as plain `liveshop serve`)" if args.access_log else "off"
    print(
        f"python {sys.version.split()[0]}, uvicorn {version('uvicorn')} ({loop} + {proto}), "
        f"fastapi {version('fastapi')}, starlette {version('starlette')}; {pinning}\n"
        f"liveshop: `liveshop serve --demo` code path (liveshop.cli.main), SQLite, in-process "
        f"broker, uvicorn access log {access}\n"
        f"bare:     Starlette route returning the same bytes, same uvicorn settings\n"
        f"load:     {args.connections} keep-alive connections; per row {args.seconds:g} s measured "
        f"in {args.rounds} round(s), each after a {args.warmup:g} s warm-up, liveshop and bare "
        f"alternating\n"
    )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [SERVE_LIVESHOP]:
        return serve_liveshop(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m bench.api", description="liveshop read-path API benchmark vs bare Starlette"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per row")
    parser.add_argument("--connections", type=int, default=50, help="concurrent clients")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="split --seconds into this many liveshop/bare alternations (each with its warm-up)",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="keep uvicorn's access log on (both servers)"
    )
    args = parser.parse_args(argv)

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    describe(args, server_cpu, client_cpu)

    work = Path(tempfile.mkdtemp(prefix="liveshop-bench-"))
    try:
        with sigterm_as_interrupt(), Processes() as procs:
            liveshop, data_dir = start_liveshop(procs, work, server_cpu, args.access_log)
            start_show(liveshop, data_dir)
            bodies = fetch_bodies(liveshop)
            bare = start_bare(procs, work, bodies, server_cpu, args.access_log)
            runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
            files: dict[tuple[str, str], list[Path]] = {}
            for path in ENDPOINTS:
                for round_ in range(args.rounds):
                    for server in (liveshop, bare):
                        key = (server.name, path)
                        file = (
                            work / f"latencies-{server.name}-{ENDPOINTS.index(path)}-{round_}.bin"
                        )
                        files.setdefault(key, []).append(file)
                        runs.setdefault(key, []).append(
                            measure(procs, server, path, bodies[path], args, client_cpu, file)
                        )
            results = {key: combine(runs[key], files[key]) for key in runs}
            print_report(results, bodies)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
