"""The database seam: one async engine per app, tuned for the dialect the URL names.

SQLite (embedded default) gets WAL, a busy timeout and foreign keys; PostgreSQL gets a pool sized for
one process. Everything above this module is dialect-agnostic SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from liveshop.storage.errors import Unavailable, is_unavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT, PG_POOL_TIMEOUT = 5.0, 10.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

    For a SQLite file, its folder is created. Raises ``ValueError`` for any other dialect.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_size=8
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+asyncpg")
        # pre-ping: a connection the server dropped (restart, failover) is replaced on checkout;
        # short connect and pool timeouts: callers learn "unavailable" in seconds, not minutes
        return create_async_engine(
            parsed,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            pool_timeout=PG_POOL_TIMEOUT,
            connect_args={"timeout": PG_CONNECT_TIMEOUT},
        )
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://"
    )


class Database:
    """The engine and its session factory. Owned by the app's lifespan; ``close()`` disposes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends normally, rolled back on error.

        When the database cannot be reached (restart, failover, network), raises
        :class:`~liveshop.storage.errors.Unavailable` (from the driver's error): the block's work
        was not committed, and the pool reconnects by itself (``pool_pre_ping``) once it is back.
        """
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except Unavailable:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise Unavailable(f"database unavailable: {exc}") from exc
            raise

    async def ping(self) -> bool:
        """True when the database answers ``SELECT 1``."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self.engine.dispose()
