"""Private Redis, PostgreSQL and small disks for the fault tests (see bench/_services.py: the
machine's services are shared by every test running at the same time and are never restarted)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bench._services import PrivatePostgres, PrivateRedis, mount_tmpfs, unmount

from tests.conftest import CI

__all__ = ["PrivatePostgres", "PrivateRedis", "private_postgres", "private_redis", "small_tmpfs"]


def _absent(what: str) -> None:
    message = f"{what} is not available"
    if CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


@contextmanager
def private_redis(root: Path) -> Iterator[PrivateRedis]:
    """A running private Redis; stopped at the end."""
    if not PrivateRedis.installed():
        _absent("redis-server")
    redis = PrivateRedis(root)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL cluster (the newest installed version); removed at the end."""
    pg = PrivatePostgres()
    if not pg.installed():
        _absent("PostgreSQL (initdb)")
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.remove()


@contextmanager
def small_tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A ``size``-byte tmpfs on ``path`` (root only: skipped, or failed under CI, otherwise)."""
    error = mount_tmpfs(path, size)
    if error is not None:
        _absent(f"a tmpfs ({error})")
    try:
        yield path
    finally:
        unmount(path)
