"""The full contract run (``python -m bench.openapi``): ``schemathesis run --checks all`` with every
phase (examples, coverage, fuzzing, stateful) against ``/openapi.json`` of a real ``liveshop serve
--demo``, as the seller (admin), as a guest and as an anonymous caller. It passes when every run
reports 0 failures and 0 errors; the summaries are printed, the full reports kept with ``--keep``.

Set-up, in a temporary directory removed at the end: the server runs this checkout's code (``src/``)
on SQLite (``--database-url postgresql+asyncpg://…`` for PostgreSQL: give it an empty database),
media on loopback, and the per-address limits on new guests and registrations off, as in the test
suite (every request comes from 127.0.0.1; those limits have their own tests). The log-in limit stays
on: its 429 is part of the contract. Schemathesis reads ``schemathesis.toml`` at the repository root
(hooks for the SDP and WebM bodies, and which statuses media bytes may get).

The short run inside the test suite is ``tests/api/test_openapi_contract.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.api import free_port

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("admin", "guest", "anonymous")


def _request(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("liveshop serve exited before it was ready")
        try:
            _request(f"{base}/api/health")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise SystemExit("liveshop serve did not answer /api/health in time")


def _admin_credentials(data_dir: Path) -> tuple[str, str]:
    fields = dict(
        line.split(": ", 1)
        for line in (data_dir / "admin-credentials.txt").read_text().splitlines()
        if ": " in line
    )
    return fields["email"], fields["password"]


def _tokens(base: str, data_dir: Path) -> dict[str, str | None]:
    email, password = _admin_credentials(data_dir)
    admin = _request(f"{base}/api/auth/login", {"email": email, "password": password})
    guest = _request(f"{base}/api/auth/guest", {"name": "Contract"})
    return {"admin": admin["accessToken"], "guest": guest["accessToken"], "anonymous": None}


def _summary(output: str) -> str:
    start = output.rfind("=== SUMMARY ===")
    if start < 0:
        return output[-3000:]
    return output[output.rfind("\n", 0, start) + 1 :].rstrip()


def run_schemathesis(
    base: str, token: str | None, args: argparse.Namespace, report: Path
) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--no-color",
    ]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the hooks module, bench.openapi_hooks
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    report.write_text(output)
    return done.returncode, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.openapi", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=100, help="per operation (100)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--database-url", help="default: SQLite in the temporary directory")
    parser.add_argument("--roles", default=",".join(ROLES), help="admin,guest,anonymous")
    parser.add_argument(
        "--keep", type=Path, help="copy each role's full report into this directory"
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="liveshop-openapi-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p
        ),
        "LIVESHOP_DATA_DIR": str(tmp / "data"),
        "LIVESHOP_MEDIA_ADDRESSES": "127.0.0.1",
        "LIVESHOP_GUEST_TOKENS_PER_MINUTE": "0",
        "LIVESHOP_REGISTRATIONS_PER_MINUTE": "0",
    }
    if args.database_url:
        env["LIVESHOP_DATABASE_URL"] = args.database_url
    serve = [sys.executable, "-m", "liveshop.cli", "serve", "--demo", "--port", str(port)]
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [*serve, "--no-access-log"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    failed = False
    try:
        _wait_ready(base, server)
        tokens = _tokens(base, tmp / "data")
        for role in args.roles.split(","):
            started = time.monotonic()
            code, output = run_schemathesis(base, tokens[role], args, tmp / f"{role}.txt")
            print(f"\n##### {role}: exit {code} in {time.monotonic() - started:.0f} s\n")
            print(_summary(output), flush=True)
            failed = failed or code != 0
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(tmp / f"{role}.txt", args.keep / f"{role}.txt")
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if server.returncode not in (0, -15) and args.keep:
            shutil.copy(tmp / "server.log", args.keep / "server.log")
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nFAILED" if failed else "\nPASSED: 0 failures for every role")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
