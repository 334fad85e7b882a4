"""Room bookkeeping for catching chat up after a broker outage."""

from __future__ import annotations

import time

from liveshop.hub.room import Room


def test_resume_point_is_below_every_id_passed_on_within_the_margin() -> None:
    """Ids passed on within the margin, in any order, all lie after the resume point."""
    room = Room(1)
    for chat_id in (5, 30, 20):
        room.note_chat(chat_id)
    room.chat_times[0] = time.monotonic() - 60  # id 5 was passed on a minute ago
    assert room.resume_point(10) == 19


def test_resume_point_is_the_newest_id_when_nothing_is_recent() -> None:
    """With nothing passed on within the margin the room resumes after its newest id."""
    room = Room(1)
    for chat_id in (5, 7):
        room.note_chat(chat_id)
    for i in range(len(room.chat_times)):
        room.chat_times[i] = time.monotonic() - 60
    assert room.resume_point(10) == 7


def test_passed_on_since_lists_recent_lower_ids_only() -> None:
    """Ids below the bound passed on within the time, ascending; older or higher ones are not."""
    room = Room(1)
    for chat_id in (5, 12, 9, 30, 11):
        room.note_chat(chat_id)
    room.chat_times[0] = time.monotonic() - 60  # id 5 was passed on a minute ago
    assert room.passed_on_since(5.0, below=12) == [9, 11]


def test_catch_up_floor_is_the_newest_id_when_the_room_was_made() -> None:
    """Catching up starts above what was stored before the room was made."""
    room = Room(1)
    room.made_after = 40
    room.note_chat(12)
    assert room.catch_up_floor() == 40


def test_catch_up_floor_rises_to_the_oldest_remembered_id_once_memory_is_full() -> None:
    """A room that remembers no more does not take an id it forgot for missing."""
    room = Room(1)
    for chat_id in range(100, 100 + room.chat_recent.maxlen + 5):
        room.note_chat(chat_id)
    assert room.catch_up_floor() == 105
