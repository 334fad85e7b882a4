"""The "add to calendar" file (domain/calendar.py): RFC 5545 folding and escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar

from liveshop.domain.calendar import ShowEvent, escape_text, fold, show_calendar
from liveshop.domain.schedule import schedule_problem

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_fold_keeps_lines_within_75_octets_and_characters_whole() -> None:
    """A long line of multi-byte characters folds at ≤ 75 octets and unfolds to itself."""
    line = "SUMMARY:" + "ü€" * 60
    folded = fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in pieces) and len(pieces) > 1
    assert folded.replace("\r\n ", "") == line


def test_escape_text_escapes_the_special_characters() -> None:
    """Backslash, semicolon, comma and newlines are escaped as RFC 5545 says."""
    assert escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"


def test_calendar_round_trips_through_icalendar() -> None:
    """icalendar reads back the title, times and alarm."""
    event = ShowEvent(
        uid="livestream-1@shop.example",
        title="Sale, today; only",
        description="",
        start=NOW + timedelta(days=1),
        duration=timedelta(hours=1),
        url="https://shop.example/live/1",
        stamp=NOW,
    )
    text = show_calendar(event)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    (vevent,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Sale, today; only"
    assert vevent.decoded("DTSTART") == NOW + timedelta(days=1)
    assert [str(a["TRIGGER"].to_ical().decode()) for a in vevent.walk("VALARM")] == ["-PT15M"]


def test_schedule_refuses_the_past_and_far_future() -> None:
    """A show may be scheduled from now (5 min leeway) to a year ahead."""
    assert schedule_problem(NOW - timedelta(minutes=1), NOW) is None
    assert schedule_problem(NOW - timedelta(hours=1), NOW) is not None
    assert schedule_problem(NOW + timedelta(days=400), NOW) is not None
    assert schedule_problem(NOW + timedelta(days=30), NOW) is None
