"""Real ``liveshop serve`` processes for the multi-process tests (hub and janus mode)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.medianet import subprocess_env
from tests.waiting import until_sync


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    def __init__(self, popen: subprocess.Popen[bytes], port: int, log: Path | None = None) -> None:
        self.popen, self.port, self.log = popen, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/ws"


def _ready(proc: Proc) -> bool:
    """The server answers health with the Redis broker (AssertionError once it exited)."""
    try:
        if httpx.get(f"{proc.url}/api/health", timeout=1).json()["broker"] == "redis":
            return True
    except (httpx.TransportError, ValueError, KeyError):
        pass
    assert proc.popen.poll() is None, "server exited"
    return False


@contextmanager
def serve(
    env: dict[str, str],
    root: Path,
    names: tuple[str, ...] = ("a", "b"),
    args: tuple[str, ...] = (),
    env_of: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[list[Proc]]:
    """One ``liveshop serve`` per name (own port and data directory under ``root``, stderr in
    ``root/<name>/stderr.log``, media on loopback unless ``env`` sets LIVESHOP_MEDIA_ADDRESSES),
    yielded once each answers health with the Redis broker; stopped (terminate, then kill) on exit.
    ``args`` are extra ``serve`` arguments (e.g. ``--workers``); ``env_of[name]`` adds to that
    process's environment."""
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
                **subprocess_env(env),
                "LIVESHOP_DATA_DIR": str(root / name / "data"),
                **(env_of or {}).get(name, {}),
            },
            stdout=subprocess.DEVNULL,
            stderr=(root / name / "stderr.log").open("wb"),
        )
        procs.append(Proc(popen, port, root / name / "stderr.log"))
    try:
        for proc in procs:
            until_sync(
                lambda proc=proc: _ready(proc), timeout=90, interval=0.2, message="serve to start"
            )
        yield procs
    finally:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.terminate()
                try:
                    proc.popen.wait(10)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()


async def seller_token(database_url: str, base_url: str, http: httpx.AsyncClient) -> str:
    """Create the test seller in the shared database and log in through ``base_url``; the token."""
    from liveshop.security import hash_password
    from liveshop.storage import users
    from liveshop.storage.engine import Database
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    db = Database(database_url)
    try:
        async with db.session() as session:
            await users.create_user(
                session,
                email=ADMIN_EMAIL,
                name="Seller",
                role="admin",
                password_hash=await hash_password(ADMIN_PASSWORD),
            )
    finally:
        await db.close()
    login = await http.post(
        f"{base_url}/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    token: str = login.json()["accessToken"]
    return token
