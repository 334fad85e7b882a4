"""Private Redis, PostgreSQL and small disks for the fault tests (see bench/_services.py: the
machine's services are shared by every test running at the same time and are never restarted)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from bench._services import PrivatePostgres, PrivateRedis, mount_tmpfs, unmount

from tests.conftest import CI, REDIS_HOST, REDIS_PORT
from tests.processes import free_port

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


class RedisGate:
    """A TCP proxy in front of Redis for one process, on its own thread and event loop (the servers
    start while the test's loop is blocked): ``pause()`` stops relaying both ways (the process's
    commands and its pub/sub deliveries wait in the proxy) until ``resume()``; ``cut()`` closes
    every relayed connection and refuses new ones until ``resume()`` (the process sees Redis go
    away while the others do not)."""

    def __init__(self, upstream_port: int = REDIS_PORT) -> None:
        self.port = free_port()
        self.upstream_port = upstream_port
        self._loop = asyncio.new_event_loop()
        self._open = asyncio.Event()
        self._ready = threading.Event()
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._refusing = False
        self._thread = threading.Thread(target=self._run, name="redis-gate", daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._open.set()
        server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(REDIS_HOST, self.upstream_port)
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                await self._open.wait()
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()

    def pause(self) -> None:
        self._loop.call_soon_threadsafe(self._open.clear)

    def resume(self) -> None:
        def reopen() -> None:
            self._refusing = False
            self._open.set()

        self._loop.call_soon_threadsafe(reopen)

    def cut(self) -> None:
        def cut() -> None:
            self._refusing = True
            for writer in self._writers:
                writer.close()
            self._writers.clear()

        self._loop.call_soon_threadsafe(cut)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
