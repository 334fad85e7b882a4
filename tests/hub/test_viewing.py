"""Viewer sessions are written in batches, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from liveshop.hub.viewing import ViewingLog
from liveshop.storage import analytics, livestreams, users
from liveshop.storage.engine import Database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.close()


async def new_show(db: Database) -> int:
    async with db.session() as s:
        seller = await users.create_user(
            s, email="s@example.com", name="S", role="admin", password_hash="x"
        )
        show = await livestreams.create(
            s, title="t", description="", quality="720p", created_by=seller.id
        )
    return show.id


async def rows(db: Database, show: int) -> list[tuple[str, bool]]:
    async with db.session() as s:
        return sorted((v, left is not None) for v, _, left in await analytics.sessions(s, show))


async def test_one_flush_writes_every_pending_join(db: Database) -> None:
    """A thousand joins are written by one flush, none before it."""
    log, show = ViewingLog(db), await new_show(db)
    for i in range(1000):
        log.open(show, f"g_{i:04d}")
    assert await rows(db, show) == []
    await log.flush()
    assert await rows(db, show) == sorted((f"g_{i:04d}", False) for i in range(1000))
    assert log.pending == 0


async def test_leave_before_the_insert_is_written_with_it(db: Database) -> None:
    """A visit that ended before its first flush is inserted closed."""
    log, show = ViewingLog(db), await new_show(db)
    log.close(log.open(show, "g_a"))
    await log.flush()
    assert await rows(db, show) == [("g_a", True)]


async def test_leave_after_the_insert_closes_the_row(db: Database) -> None:
    """A visit written open is closed by a later flush after its leave."""
    log, show = ViewingLog(db), await new_show(db)
    visit = log.open(show, "g_a")
    log.open(show, "g_b")
    await log.flush()
    log.close(visit)
    log.close(visit)  # idempotent
    await log.flush()
    assert await rows(db, show) == [("g_a", True), ("g_b", False)]


async def test_failed_flush_keeps_everything_for_the_next(db: Database) -> None:
    """When the database refuses a flush, nothing is lost: the next flush writes it all."""
    show = await new_show(db)
    unreachable = Database("sqlite+aiosqlite:////nonexistent/dir/x.db")
    log = ViewingLog(unreachable)
    visit = log.open(show, "g_a")
    await log.flush()  # logged, not raised
    assert log.pending == 1
    log.close(visit)
    log._db = db  # the database is back
    await log.flush()
    assert await rows(db, show) == [("g_a", True)]
    await unreachable.close()
