"""Files on disk: the data directory is private to the service; production keys must be random."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from liveshop.config import ConfigError, Settings, resolve_secret_key
from tests.conftest import start_server, stop_server


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_data_dir_is_0700_and_the_sqlite_file_0600(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A first start creates the data directory 0700 and the SQLite database 0600."""
    data = tmp_path / "fresh"
    settings = make_settings(
        data_dir=data, database_url=f"sqlite+aiosqlite:///{data / 'liveshop.db'}"
    )
    srv, task, _ = await start_server(settings)
    await stop_server(srv, task)
    assert mode(data) == 0o700
    assert mode(data / "liveshop.db") == 0o600
    assert (data / "liveshop.db").stat().st_size > 0


async def test_loose_modes_are_tightened_at_start(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A data directory 0755 with a 0644 database (the old defaults) is tightened at start."""
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    db = data / "liveshop.db"
    db.touch()
    db.chmod(0o644)
    settings = make_settings(data_dir=data, database_url=f"sqlite+aiosqlite:///{db}")
    srv, task, _ = await start_server(settings)
    await stop_server(srv, task)
    assert (mode(data), mode(db)) == (0o700, 0o600)


@pytest.mark.parametrize(
    "key",
    [
        "a" * 48,
        "0" * 64,
        "secretsecretsecretsecretsecretsecret",
        "my-shop-key-my-shop-key-my-shop-key-2024",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "change-me-to-something-long-and-random",
    ],
)
def test_production_refuses_low_entropy_keys(tmp_path: Path, key: str) -> None:
    """LIVESHOP_ENV=production refuses repeated characters, repeated words and runs."""
    settings = Settings(_env_file=None, data_dir=tmp_path, env="production", secret_key=key)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="weak"):
        resolve_secret_key(settings)


def test_production_accepts_generated_keys(tmp_path: Path) -> None:
    """Keys from secrets.token_urlsafe(32+) and token_hex(16+) are accepted."""
    for key in [secrets.token_urlsafe(48) for _ in range(200)] + [
        secrets.token_hex(16) for _ in range(200)
    ]:
        settings = Settings(_env_file=None, data_dir=tmp_path, env="production", secret_key=key)  # type: ignore[call-arg]
        assert resolve_secret_key(settings) == key
