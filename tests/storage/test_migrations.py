"""Alembic migrations from an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from liveshop.storage.engine import Database

TABLES = {
    "users",
    "products",
    "livestreams",
    "pinned_products",
    "chat_messages",
    "likes",
    "recordings",
    "bans",
}


async def test_migrations_create_every_table(database_url: str) -> None:
    """Upgrading an empty database to head creates every table and the one-active index."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            indexes = await conn.run_sync(
                lambda c: {i["name"] for i in inspect(c).get_indexes("livestreams")}
            )
        assert names >= TABLES | {"alembic_version"}
        assert "uq_livestreams_one_active" in indexes
    finally:
        await db.close()


async def test_upgrade_is_idempotent(database_url: str) -> None:
    """Running the upgrade again on an up-to-date database changes nothing and does not fail."""
    from liveshop.storage.migrate import upgrade

    await upgrade(database_url)


def test_sqlite_downgrade_to_base_and_back(tmp_path: pytest.TempPathFactory) -> None:
    """Every revision can be undone and reapplied."""
    from alembic import command

    from liveshop.storage.migrate import alembic_config, upgrade_sync

    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    upgrade_sync(url)
    command.downgrade(alembic_config(url), "base")
    upgrade_sync(url)
