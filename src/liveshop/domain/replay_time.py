"""Times in a replay that joins several recorded files one after another.

Each file (a *part*) starts at ``start`` seconds of the joined video, lasts ``duration`` and began
at ``offset`` seconds on the show's clock (after the show's start). Between parts the show went on
unrecorded (a publisher reconnecting): those moments are not in the video.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartSpan:
    start: float
    duration: float
    offset: float


@dataclass(frozen=True)
class Interval:
    start: float
    end: float


def show_to_video(parts: list[PartSpan], shown: Interval) -> Interval | None:
    """The stretch of the joined video that shows ``shown`` (show-clock seconds): from where its
    start is (or the first part after it) to where its end is (or the last part before it).
    None when no recorded moment falls inside ``shown``."""
    first: float | None = None
    last: float | None = None
    for part in parts:
        lo = max(shown.start, part.offset)
        hi = min(shown.end, part.offset + part.duration)
        if hi <= lo:
            continue
        a = part.start + (lo - part.offset)
        b = part.start + (hi - part.offset)
        first = a if first is None else min(first, a)
        last = b if last is None else max(last, b)
    if first is None or last is None:
        return None
    return Interval(round(first, 3), round(last, 3))


def video_to_show(parts: list[PartSpan], t: float) -> float:
    """The show-clock time of second ``t`` of the joined video."""
    chosen = parts[0] if parts else PartSpan(0.0, 0.0, 0.0)
    for part in parts:
        if part.start <= t:
            chosen = part
    return chosen.offset + (t - chosen.start)
