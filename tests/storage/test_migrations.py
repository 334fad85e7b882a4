"""Alembic migrations from an empty database, on SQLite and PostgreSQL: they build exactly the
schema the models describe, and every revision can be undone and reapplied."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, text

from liveshop.storage.engine import Database
from liveshop.storage.migrate import alembic_config, upgrade, upgrade_sync
from liveshop.storage.models import Base, ChatMessage, Livestream, User

TABLES = {
    "users",
    "products",
    "livestreams",
    "pinned_products",
    "chat_messages",
    "likes",
    "recordings",
    "bans",
    "viewer_sessions",
    "product_clicks",
}


def _schema(conn: Connection) -> dict[str, Any]:
    """Every table's columns (type, nullability), indexes, unique constraints and foreign keys."""
    insp = inspect(conn)
    schema: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
            ],
            "indexes": sorted(
                (i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in insp.get_unique_constraints(table)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in insp.get_foreign_keys(table)
            ),
        }
    return schema


async def _read(url: str, what: Any) -> Any:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(what)
    finally:
        await db.close()


async def _rows(url: str, sql: str) -> list[Any]:
    """The rows ``sql`` reads from the database at ``url``."""
    return await _read(url, lambda conn: list(conn.execute(text(sql)).all()))


def _differences(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the selected backend that this test may migrate up and down."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    import asyncpg

    name = f"liveshop_migrations_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_migrations_create_every_table(database_url: str) -> None:
    """Upgrading an empty database to head creates every table and the one-active index."""
    schema = await _read(database_url, _schema)
    assert set(schema) >= TABLES | {"alembic_version"}
    assert "uq_livestreams_one_active" in {i[0] for i in schema["livestreams"]["indexes"]}


async def test_head_matches_the_models(database_url: str) -> None:
    """After ``upgrade head``, Alembic's autogenerate finds nothing to add, drop or alter."""
    assert await _read(database_url, _differences) == []


async def test_upgrade_again_changes_nothing(database_url: str) -> None:
    """Upgrading an up-to-date database again leaves its schema exactly as it was."""
    before = await _read(database_url, _schema)
    await upgrade(database_url)
    assert await _read(database_url, _schema) == before


async def test_downgrade_to_base_and_back_restores_the_schema(empty_url: str) -> None:
    """downgrade base → upgrade head ends in the same schema, and base really is empty."""
    await upgrade(empty_url)
    head = await _read(empty_url, _schema)
    await asyncio.to_thread(command.downgrade, alembic_config(empty_url), "base")
    assert set(await _read(empty_url, _schema)) <= {"alembic_version"}
    await asyncio.to_thread(upgrade_sync, empty_url)
    assert await _read(empty_url, _schema) == head


async def test_0008_gives_existing_products_unique_handles(empty_url: str) -> None:
    """Products made before 0008 get handles from their names, unique among live products."""
    await upgrade(empty_url, "0007")
    db = Database(empty_url)
    try:
        async with db.engine.begin() as conn:
            for name, deleted in (
                ("Linen Shirt", False),
                ("linen shirt", False),
                ("Linen shirt", True),
                ("Ünïcode Mug", False),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO products (name, description, price, currency, image_url, "
                        "product_url, stock, created_at, updated_at, deleted_at) VALUES (:n, '', 1, "
                        "'USD', '', '', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                        + ("CURRENT_TIMESTAMP" if deleted else "NULL")
                        + ")"
                    ),
                    {"n": name},
                )
    finally:
        await db.close()
    await upgrade(empty_url)
    rows = await _rows(empty_url, "SELECT handle, sku FROM products ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("linen-shirt", ""),
        ("linen-shirt-2", ""),
        ("linen-shirt-3", ""),
        ("unicode-mug", ""),
    ]


async def test_0011_keeps_messages_stored_twice_and_makes_resends_unique(empty_url: str) -> None:
    """Rows an earlier version stored twice under one clientMessageId survive 0011; only the
    later copy loses its clientMessageId, so the index can be unique."""
    await upgrade(empty_url, "0010")  # 0011 changes only an index: the models' tables fit 0010
    db = Database(empty_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(User.__table__).values(
                    id="a_1", email="s@example.com", name="S", role="admin", password_hash="x"
                )
            )
            await conn.execute(
                insert(Livestream.__table__).values(id=1, title="t", created_by="a_1")
            )
            for cid in ("c1", "c1", "c2", None, None):
                await conn.execute(
                    insert(ChatMessage.__table__).values(
                        livestream_id=1,
                        user_id="g_1",
                        user_name="A",
                        user_role="guest",
                        text="hi",
                        client_message_id=cid,
                    )
                )
    finally:
        await db.close()
    await upgrade(empty_url)
    rows = await _rows(empty_url, "SELECT client_message_id FROM chat_messages ORDER BY id")
    assert [r[0] for r in rows] == ["c1", None, "c2", None, None]
