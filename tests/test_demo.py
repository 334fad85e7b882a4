"""First-run setup."""

from __future__ import annotations

import asyncio
from pathlib import Path

from liveshop.demo import ensure_admin
from liveshop.storage.engine import Database


async def test_concurrent_first_runs_create_one_admin(database_url: str, tmp_path: Path) -> None:
    """Two processes starting at once: one creates the admin, the other carries on (no crash)."""
    dbs = [Database(database_url), Database(database_url)]
    try:
        results = await asyncio.gather(*[ensure_admin(db, tmp_path) for db in dbs])
    finally:
        for db in dbs:
            await db.close()
    assert sorted(r is None for r in results) == [False, True]
