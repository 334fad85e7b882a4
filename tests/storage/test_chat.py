"""Chat storage: what a resuming client is told was deleted, and a resend stored once, on both
backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage import chat
from liveshop.storage.engine import Database
from liveshop.storage.errors import Conflict
from liveshop.storage.models import ChatMessage
from tests.storage.chat_rows import say, seller_show


async def test_deleted_up_to_looks_only_at_the_window_before_the_resume_point(
    database_url: str,
) -> None:
    """Deletions among the newest `window` messages ≤ up_to are listed; older and later are not."""
    db = Database(database_url)
    try:
        async with db.session() as s:
            show_id = await seller_show(s)
            ids = [await say(s, show_id, f"m{i}") for i in range(30)]
            # too old (outside the last 10 up to ids[24]), inside twice, after the resume point
            await chat.delete_ids(s, show_id, [ids[2], ids[16], ids[24], ids[27]])
        async with db.session() as s:
            found = await chat.deleted_up_to(s, show_id, up_to=ids[24], window=10)
        assert found == [ids[16], ids[24]]
    finally:
        await db.close()


async def test_late_before_lists_recent_lower_ids_only(database_url: str) -> None:
    """Messages below the resume point stored within the window are listed; older, deleted and
    the resume point itself are not, nor anything for a show the resume point isn't in."""
    db = Database(database_url)
    try:
        async with db.session() as s:
            show_id = await seller_show(s)
            old = await say(s, show_id, "old")
            recent = [await say(s, show_id, f"r{i}") for i in range(3)]
            point = await say(s, show_id, "point")
            await say(s, show_id, "after")
            stored = (await s.get(ChatMessage, point)).created_at  # type: ignore[union-attr]
            await s.execute(
                update(ChatMessage)
                .where(ChatMessage.id == old)
                .values(created_at=stored - timedelta(seconds=6))
            )
            await chat.delete_ids(s, show_id, [recent[1]])
        async with db.session() as s:
            found = await chat.late_before(s, show_id, up_to=point, seconds=5, window=50)
            assert [m.id for m in found] == [recent[0], recent[2]]
            elsewhere = await chat.late_before(s, show_id + 1, up_to=point, seconds=5, window=50)
            assert elsewhere == []
    finally:
        await db.close()


async def _send_c1(s: AsyncSession, show_id: int) -> ChatMessage:
    """Store g_1's message "once" under clientMessageId c1."""
    return await chat.add(
        s,
        livestream_id=show_id,
        user_id="g_1",
        user_name="A",
        user_role="guest",
        text="once",
        client_message_id="c1",
    )


async def test_a_resend_racing_the_first_commit_is_refused(database_url: str) -> None:
    """Two sessions storing one clientMessageId at once: one row; the other gets Conflict."""
    db = Database(database_url)
    try:
        async with db.session() as s:
            show_id = await seller_show(s)
        first_stored, commit_first = asyncio.Event(), asyncio.Event()

        async def store() -> int:
            async with db.session() as s:
                message = await _send_c1(s, show_id)
                first_stored.set()
                await commit_first.wait()  # uncommitted while the resend tries
                return message.id

        first = asyncio.create_task(store())
        await first_stored.wait()

        async def resend() -> None:
            async with db.session() as s:
                commit_first.set()  # the first commits while (or before) this one inserts
                await _send_c1(s, show_id)

        with pytest.raises(Conflict):
            await resend()
        stored_id = await first
        async with db.session() as s:
            found = await chat.find_sent(s, show_id, "g_1", "c1")
            everything = await chat.after(s, show_id, after_id=None, limit=10)
        assert found is not None and found.id == stored_id
        assert [m.id for m in everything] == [stored_id]
    finally:
        await db.close()


async def test_visible_ids_after_skips_deleted_and_older_ids(database_url: str) -> None:
    """Ids after the given one, ascending, deleted ones left out, at most `limit`."""
    db = Database(database_url)
    try:
        async with db.session() as s:
            show_id = await seller_show(s)
            ids = [await say(s, show_id, f"m{i}") for i in range(6)]
            await chat.delete_ids(s, show_id, [ids[3]])
        async with db.session() as s:
            assert await chat.visible_ids_after(s, show_id, after_id=ids[1], limit=10) == [
                ids[2],
                ids[4],
                ids[5],
            ]
            assert await chat.visible_ids_after(s, show_id, after_id=ids[1], limit=2) == [
                ids[2],
                ids[4],
            ]
    finally:
        await db.close()


async def test_visible_by_ids_reads_only_this_shows_visible_messages(database_url: str) -> None:
    """Rows for the asked ids in id order; deleted, unknown and other shows' ids are left out."""
    db = Database(database_url)
    try:
        async with db.session() as s:
            show_id = await seller_show(s)
            ids = [await say(s, show_id, f"m{i}") for i in range(3)]
            await chat.delete_ids(s, show_id, [ids[1]])
        async with db.session() as s:
            rows = await chat.visible_by_ids(s, show_id, [ids[2], ids[0], ids[1], ids[2] + 1000])
            elsewhere = await chat.visible_by_ids(s, show_id + 1, ids)
        assert [m.text for m in rows] == ["m0", "m2"]
        assert elsewhere == []
    finally:
        await db.close()
