"""An "add to calendar" file for a scheduled show: one iCalendar event (RFC 5545), written by hand.

Guarantees: CRLF line ends, content lines folded at 75 octets without splitting a UTF-8
character, TEXT values escaped (backslash, semicolon, comma, newline), times in UTC (``Z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PRODUCT_ID = "-//liveshop//Scheduled show//EN"
LINE_OCTETS = 75
REMINDER = timedelta(minutes=15)


@dataclass(frozen=True)
class ShowEvent:
    """What the calendar entry of one show says."""

    uid: str
    title: str
    description: str
    start: datetime
    duration: timedelta
    url: str
    stamp: datetime


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): ``\\``, ``;``, ``,`` escaped, line breaks as ``\\n``."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def utc_stamp(moment: datetime) -> str:
    """A DATE-TIME in UTC form (``19970714T173000Z``); a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Fold one content line into pieces of at most 75 octets (RFC 5545 3.1)."""
    data = line.encode("utf-8")
    pieces: list[bytes] = []
    limit = LINE_OCTETS
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # inside a UTF-8 character
            cut -= 1
        pieces.append(data[:cut])
        data = data[cut:]
        limit = LINE_OCTETS - 1  # continuation lines start with a space
    pieces.append(data)
    return "\r\n ".join(p.decode("utf-8") for p in pieces)


def show_calendar(event: ShowEvent) -> str:
    """The whole ``text/calendar`` document: one VEVENT with a reminder 15 minutes before."""
    description = f"{event.description}\n\n{event.url}" if event.description else event.url
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{utc_stamp(event.stamp)}",
        f"DTSTART:{utc_stamp(event.start)}",
        f"DTEND:{utc_stamp(event.start + event.duration)}",
        f"SUMMARY:{escape_text(event.title)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"URL:{event.url}",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape_text(event.title)}",
        f"TRIGGER:-PT{int(REMINDER.total_seconds() // 60)}M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)
