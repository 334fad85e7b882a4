"""The ``liveshop`` command line, run as a real subprocess."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from liveshop.config import ConfigError, Settings, resolve_secret_key
from tests.waiting import until_sync


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "liveshop.cli", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_db_upgrade_creates_default_sqlite_file(tmp_path: Path) -> None:
    """``db upgrade`` with no configuration creates data/liveshop.db."""
    r = run(["db", "upgrade"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "liveshop.db").exists()


def test_create_admin_reads_password_from_env_when_not_a_terminal(tmp_path: Path) -> None:
    """Without --password and without a terminal, LIVESHOP_ADMIN_PASSWORD is used; a duplicate fails."""
    env = {"LIVESHOP_ADMIN_PASSWORD": "s3cret-enough"}
    r = run(["create-admin", "--email", "Boss@Example.com"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    again = run(["create-admin", "--email", "boss@example.com"], tmp_path, env)
    assert again.returncode == 1 and "already" in again.stderr


def test_create_moderator_makes_a_moderator_account(tmp_path: Path) -> None:
    """``create-moderator`` stores a ``moderator`` (not a seller) with the given name."""
    env = {"LIVESHOP_ADMIN_PASSWORD": "s3cret-enough"}
    r = run(["create-moderator", "--email", "mo@example.com", "--name", "Mo"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert "created moderator mo@example.com" in r.stdout
    with sqlite3.connect(tmp_path / "data" / "liveshop.db") as db:
        rows = db.execute("SELECT email, name, role FROM users").fetchall()
    assert rows == [("mo@example.com", "Mo", "moderator")]


def test_create_admin_refuses_short_password(tmp_path: Path) -> None:
    """A missing or short password is refused with a clear message."""
    r = run(["create-admin", "--email", "a@example.com"], tmp_path)
    assert r.returncode == 2 and "8 characters" in r.stderr


def test_seed_demo_adds_catalogue_once(tmp_path: Path) -> None:
    """The demo catalogue has at least 6 products and is added only to an empty catalogue."""
    first = run(["seed-demo"], tmp_path)
    assert first.returncode == 0 and "added" in first.stdout
    count = int(first.stdout.split()[1])
    assert count >= 6
    second = run(["seed-demo"], tmp_path)
    assert "nothing added" in second.stdout


def test_production_refuses_placeholder_secret(tmp_path: Path) -> None:
    """With LIVESHOP_ENV=production a placeholder key stops serve with a clear message."""
    r = run(
        ["serve", "--port", "0"],
        tmp_path,
        {"LIVESHOP_ENV": "production", "LIVESHOP_SECRET_KEY": "change-me"},
    )
    assert r.returncode == 2
    assert "LIVESHOP_SECRET_KEY" in r.stderr


def test_secret_key_generated_once_and_kept(tmp_path: Path) -> None:
    """Outside production an unset key is generated, kept with mode 0600, and reused."""
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    key = resolve_secret_key(settings)
    assert len(key) >= 32 and resolve_secret_key(settings) == key
    assert stat.S_IMODE((tmp_path / "secret-key").stat().st_mode) == 0o600
    with pytest.raises(ConfigError):
        resolve_secret_key(Settings(_env_file=None, data_dir=tmp_path, env="production"))  # type: ignore[call-arg]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_first_run_creates_admin_and_demo_data(tmp_path: Path) -> None:
    """First ``serve --demo`` prints credentials, keeps them 0600, and serves the demo catalogue."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "liveshop.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def products() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/products", timeout=1)
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail(proc.stdout.read() if proc.stdout else "serve exited")
                return None

        r = until_sync(products, timeout=30, interval=0.2, message="the server to come up")
        assert len(r.json()["products"]) >= 6
        creds = tmp_path / "data" / "admin-credentials.txt"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        password = creds.read_text().split("password:")[1].strip()
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/login",
            json={"email": "admin@liveshop.local", "password": password},
        )
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert password in out and "/studio" in out


def test_recordings_prune_deletes_old_files_only(tmp_path: Path) -> None:
    """prune --older-than removes files of shows ended before the cutoff; --dry-run only lists."""
    import asyncio
    from datetime import timedelta

    from liveshop.storage import livestreams, users
    from liveshop.storage.engine import Database
    from liveshop.storage.models import utcnow

    assert run(["db", "upgrade"], tmp_path).returncode == 0

    async def setup() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'liveshop.db'}")
        async with db.session() as session:
            seller = await users.create_user(
                session, email="s@example.com", name="S", role="admin", password_hash="x"
            )
            for title, age in (("old", 40), ("new", 2)):
                show = await livestreams.create(
                    session, title=title, description="", quality="720p", created_by=seller.id
                )
                await livestreams.stop(session, show)
                show.end_time = utcnow() - timedelta(days=age)
                show.is_recorded = True
                media = tmp_path / "data" / "media" / "livestreams" / str(show.id)
                media.mkdir(parents=True)
                (media / "recording.webm").write_bytes(b"x")
        await db.close()

    asyncio.run(setup())
    dry = run(["recordings", "prune", "--older-than", "30d", "--dry-run"], tmp_path)
    assert "would delete the recordings of 1 show(s): 1" in dry.stdout
    assert (tmp_path / "data" / "media" / "livestreams" / "1").exists()
    real = run(["recordings", "prune", "--older-than", "30d"], tmp_path)
    assert real.returncode == 0 and "deleted the recordings of 1 show(s): 1" in real.stdout
    assert not (tmp_path / "data" / "media" / "livestreams" / "1").exists()
    assert (tmp_path / "data" / "media" / "livestreams" / "2").exists()
    bad = run(["recordings", "prune", "--older-than", "soon"], tmp_path)
    assert bad.returncode == 2


def test_token_prints_a_working_token_for_obs(tmp_path: Path) -> None:
    """``liveshop token --email`` prints a bearer token of that account; unknown e-mail fails."""
    from liveshop.security import TokenService

    env = {"LIVESHOP_ADMIN_PASSWORD": "s3cret-enough"}
    assert run(["create-admin", "--email", "obs@example.com"], tmp_path, env).returncode == 0
    r = run(["token", "--email", "obs@example.com", "--days", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    key = (tmp_path / "data" / "secret-key").read_text().strip()
    identity = TokenService(key, ttl_seconds=1, guest_ttl_seconds=1).verify(r.stdout.strip())
    assert identity.role == "admin" and identity.email == "obs@example.com"
    assert run(["token", "--email", "nobody@example.com"], tmp_path).returncode == 1
