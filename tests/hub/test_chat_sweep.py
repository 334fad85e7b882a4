"""The chat sweep (hub.chat_sweep): stored messages whose broadcast never reached a process are
passed on from the database, once, and nothing its sockets already had."""

from __future__ import annotations

from liveshop.hub import chat_sweep
from liveshop.hub.room import Room
from liveshop.storage.engine import Database
from tests.storage.chat_rows import say, seller_show


async def _show_with_chat(db: Database, count: int) -> tuple[int, list[int]]:
    """A show and the ids of ``count`` messages stored in it."""
    async with db.session() as s:
        show_id = await seller_show(s)
        ids = [await say(s, show_id, f"m{i}") for i in range(count)]
    return show_id, ids


def _room_made_after(show_id: int, newest: int) -> Room:
    """A room made when ``newest`` was the show's newest stored message."""
    room = Room(show_id)
    room.chat_high = room.made_after = newest
    return room


async def test_a_missing_message_is_passed_on_by_the_second_sweep_that_finds_it(
    database_url: str,
) -> None:
    """One sweep that finds a message missing passes nothing on (it may be on its way); the
    next passes it on, and a third passes nothing again."""
    db = Database(database_url)
    try:
        show_id, ids = await _show_with_chat(db, 3)
        room = _room_made_after(show_id, ids[0])
        room.note_chat(ids[1])  # its broadcast came; that of ids[2] never did
        assert await chat_sweep.sweep(db, room) == 0
        assert await chat_sweep.sweep(db, room) == 1
        assert room.passed_on(ids[2])
        assert await chat_sweep.sweep(db, room) == 0
    finally:
        await db.close()


async def test_a_sweep_passes_on_nothing_stored_before_the_room_was_made(
    database_url: str,
) -> None:
    """An old message passed on again (a resend) does not make the sweep take the messages
    stored between it and the room's making for missing: its sockets had them."""
    db = Database(database_url)
    try:
        show_id, ids = await _show_with_chat(db, 4)
        room = _room_made_after(show_id, ids[2])
        room.note_chat(ids[0])  # a resend's second broadcast of an old message
        for _ in range(3):
            await chat_sweep.sweep(db, room)
        assert not room.passed_on(ids[1]) and not room.passed_on(ids[2])
        assert room.passed_on(ids[3])  # stored after the room was made, never broadcast
    finally:
        await db.close()
