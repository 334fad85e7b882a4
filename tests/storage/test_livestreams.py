"""Storage rules that must hold under concurrency, on both backends."""

from __future__ import annotations

import asyncio

from liveshop.storage import likes, livestreams, users
from liveshop.storage.engine import Database
from liveshop.storage.errors import Conflict


async def _seller(db: Database) -> str:
    async with db.session() as s:
        u = await users.create_user(
            s, email="s@example.com", name="S", role="admin", password_hash="x"
        )
    return u.id


async def test_only_one_active_show_under_concurrent_inserts(database_url: str) -> None:
    """Concurrent creates: exactly one succeeds, the rest raise Conflict."""
    db = Database(database_url)
    try:
        seller = await _seller(db)

        async def create(i: int) -> bool:
            try:
                async with db.session() as s:
                    await livestreams.create(
                        s, title=f"t{i}", description="", quality="720p", created_by=seller
                    )
                return True
            except Conflict:
                return False

        results = await asyncio.gather(*[create(i) for i in range(20)])
        assert results.count(True) == 1
    finally:
        await db.close()


async def test_concurrent_like_toggles_count_exactly(database_url: str) -> None:
    """1000 distinct likers toggling at once end at 1000; half of them toggling again ends at 500."""
    db = Database(database_url)
    try:
        seller = await _seller(db)
        async with db.session() as s:
            show = await livestreams.create(
                s, title="t", description="", quality="720p", created_by=seller
            )

        async def toggle(liker: str) -> tuple[bool, int, int]:
            async with db.session() as s:
                return await likes.toggle(s, show.id, liker)

        first = await asyncio.gather(*[toggle(f"g_{i}") for i in range(1000)])
        assert all(liked for liked, _, _ in first)
        await asyncio.gather(*[toggle(f"g_{i}") for i in range(0, 1000, 2)])
        async with db.session() as s:
            assert (await livestreams.get(s, show.id)).likes == 500
            assert await likes.has_liked(s, show.id, "g_1")
            assert not await likes.has_liked(s, show.id, "g_0")
    finally:
        await db.close()
