"""Shared fixtures: databases (SQLite and a real PostgreSQL), brokers, and a real server on port 0."""

from __future__ import annotations

import asyncio
import fractions
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import uvicorn
from PIL import Image

from liveshop.app import create_app
from liveshop.broker.base import Broker
from liveshop.config import Settings
from liveshop.storage.engine import Database
from tests.medianet import LOOPBACK, media_addresses
from tests.waiting import until

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Tests that keep both cores busy (Chromium, encoders, Janus, GStreamer) and time media: on two
# workers (`pytest -n 2 --dist loadgroup`) they run one at a time on one worker, while the other
# worker takes the rest, file by file.
HEAVY = (
    "tests/browser/",
    "tests/media/",
    "tests/interop/",
    "tests/test_network_bench.py",
    "tests/test_bench_media.py",
    "tests/test_soak.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests for pytest-xdist's loadgroup: the heavy ones together, the others by file."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group("heavy" if path.startswith(HEAVY) else path))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run blocking code (which may call asyncio.run) outside the test's event loop."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def require(service: str, host: str, port: int) -> None:
    """Skip (or fail under CI=true) when a service the test needs is not running."""
    if _reachable(host, port):
        return
    message = f"{service} is not running on {host}:{port} (start it, or run `make services`)"
    if CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def media_on_loopback() -> Iterator[None]:
    """Media stays home: this process's aiortc peers offer 127.0.0.1 only (tests/medianet.py)."""
    with media_addresses(LOOPBACK):
        yield


# --- PostgreSQL: one throw-away database per test session --------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/test"


@pytest.fixture(scope="session")
def pg_database(pg_admin_url: str) -> Iterator[str]:
    """Create ``liveshop_test_<random>`` (dropped at the end); yields its URL."""
    require("PostgreSQL", PG_HOST, PG_PORT)
    import asyncpg

    name = f"liveshop_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(lambda: asyncio.run(admin(f'CREATE DATABASE "{name}"')))
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        in_thread(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


@pytest.fixture(scope="session")
def pg_migrated(pg_database: str) -> str:
    from liveshop.storage.migrate import upgrade_sync

    in_thread(lambda: upgrade_sync(pg_database))
    return pg_database


async def _truncate_pg(url: str) -> None:
    from sqlalchemy import text

    from liveshop.storage.engine import create_engine
    from liveshop.storage.models import Base

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs the test once per storage backend."""
    name: str = request.param
    if name == "postgres":
        require("PostgreSQL", PG_HOST, PG_PORT)
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to head once per run (per worker), for copying."""
    from liveshop.storage.migrate import upgrade_sync

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    in_thread(lambda: upgrade_sync(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty, migrated database of the selected backend, private to this test (on SQLite a
    copy of the migrated template: the migrations themselves are tested in tests/storage)."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "test.db")
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("pg_migrated")
    await _truncate_pg(url)
    return url


# --- a real server ------------------------------------------------------------------------------


@dataclass
class LiveServer:
    """A liveshop app served by uvicorn on 127.0.0.1:<free port>, inside the test's event loop."""

    url: str
    app: Any
    settings: Settings

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def db(self) -> Database:
        db: Database = self.app.state.db
        return db

    @property
    def broker(self) -> Broker:
        broker: Broker = self.app.state.broker
        return broker


async def start_server(
    settings: Settings, *, host: str = "127.0.0.1", **app_kwargs: Any
) -> tuple[uvicorn.Server, asyncio.Task[None], LiveServer]:
    """Serve on ``host`` (a namespace's near address for clients inside it) and a free port."""
    app = create_app(settings, **app_kwargs)
    from liveshop.app import UVICORN_OPTIONS

    config = uvicorn.Config(
        app, host=host, port=0, log_level="warning", lifespan="on", **UVICORN_OPTIONS
    )  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()
            raise RuntimeError("server did not start")
        return bool(server.started)

    await until(started, interval=0.01, message="uvicorn to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, LiveServer(url=f"http://{host}:{port}", app=app, settings=settings)


async def stop_server(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    try:
        await asyncio.wait_for(task, 10)
    except TimeoutError:
        server.force_exit = True
        task.cancel()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": tmp_path / "data",
            "secret_key": "test-secret-key-" + "x" * 32,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'liveshop.db'}",
            # tests connect many shoppers from 127.0.0.1; the per-address limits have own tests
            "guest_tokens_per_minute": 0,
            "registrations_per_minute": 0,
            "trusted_after_seconds": 0,
            "address_chat_per_minute": 0,
            "address_likes_per_minute": 0,
            "address_signals_per_minute": 0,
            "address_connects_per_minute": 0,
            # MP4 renditions cost CPU in the background: on only where a test asks for them
            "mp4_replays": False,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def server(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[LiveServer]:
    """A real server on the selected storage backend and the in-process broker."""
    srv, task, live = await start_server(make_settings(database_url=database_url))
    try:
        yield live
    finally:
        await stop_server(srv, task)


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


# --- accounts -----------------------------------------------------------------------------------

ADMIN_EMAIL = "seller@example.com"
ADMIN_PASSWORD = "correct horse battery"


_ADMIN_HASH: list[str] = []  # ADMIN_PASSWORD hashed once per run: argon2 costs ~0.1 s a time


async def create_admin(server: LiveServer, email: str = ADMIN_EMAIL) -> None:
    from liveshop.security import hash_password
    from liveshop.storage import users

    if not _ADMIN_HASH:
        _ADMIN_HASH.append(await hash_password(ADMIN_PASSWORD))
    async with server.db.session() as session:
        await users.create_user(
            session, email=email, name="Seller", role="admin", password_hash=_ADMIN_HASH[0]
        )


@pytest.fixture
async def admin_token(server: LiveServer, client: httpx.AsyncClient) -> str:
    await create_admin(server)
    r = await client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["accessToken"]
    return token


@pytest.fixture
def admin(admin_token: str) -> dict[str, str]:
    """Authorization headers of a seller."""
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
async def guest(client: httpx.AsyncClient) -> dict[str, str]:
    """Authorization headers of a guest shopper."""
    r = await client.post("/api/auth/guest", json={"name": "Shopper"})
    return {"Authorization": f"Bearer {r.json()['accessToken']}"}


async def make_product(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Mug", "price": "12.50", "stock": 3, **fields}
    r = await client.post("/api/products", json=body, headers=headers)
    assert r.status_code == 201, r.text
    product: dict[str, Any] = r.json()["product"]
    return product


# --- media samples ---------------------------------------------------------------------------


def make_live_webm(path: Path, seconds: float = 4.0, fps: int = 15) -> Path:
    """VP8 in live WebM (no duration, no index), frames coloured by their index."""
    with av.open(str(path), "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        stream.codec_context.gop_size = fps  # a keyframe a second, as MediaRecorder does
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(Image.new("RGB", (320, 240), ((i * 4) % 255, 40, 90)))
            frame.pts = i
            frame.time_base = fractions.Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def live_webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a 4 s live WebM."""
    return make_live_webm(tmp_path_factory.mktemp("webm") / "live.webm").read_bytes()
