"""How a show did: pure arithmetic over intervals (sessions, pins) and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Interval:
    """[start, end) in seconds from the show's start."""

    start: float
    end: float

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass
class ProductFigures:
    product_id: int
    seconds_on_screen: float
    clicks: int
    viewers_while_pinned: int

    @property
    def click_through(self) -> float:
        """Clicks per distinct viewer who watched while the product was pinned (0 when none)."""
        return (
            round(self.clicks / self.viewers_while_pinned, 4) if self.viewers_while_pinned else 0.0
        )


@dataclass
class ShowFigures:
    duration_seconds: float
    viewers_over_time: list[tuple[int, int]] = field(default_factory=list)
    average_viewers: float = 0.0
    products: list[ProductFigures] = field(default_factory=list)


def offset(moment: datetime, start: datetime) -> float:
    return max(0.0, (moment - start).total_seconds())


def clip(interval: Interval, duration: float) -> Interval | None:
    start, end = max(0.0, interval.start), min(duration, interval.end)
    return Interval(start, end) if end > start else None


def viewers_at(sessions: dict[str, list[Interval]], t: float) -> int:
    """Distinct viewers with a session covering second ``t``."""
    return sum(1 for spans in sessions.values() if any(s.start <= t < s.end for s in spans))


def figures(
    duration: float,
    sessions: dict[str, list[Interval]],
    pins: dict[int, list[Interval]],
    clicks: dict[int, int],
    step: int = 60,
) -> ShowFigures:
    """The report's numbers.

    ``sessions``: viewer identity → watching intervals; ``pins``: product → pinned intervals;
    ``clicks``: product → counted clicks. Intervals are clipped to [0, duration). Viewers over time
    has one point every ``step`` seconds from 0 (the viewers present at that second); the average
    is the mean of those points.
    """
    clipped = {
        who: [c for s in spans if (c := clip(s, duration))] for who, spans in sessions.items()
    }
    clipped = {who: spans for who, spans in clipped.items() if spans}
    points = [(t, viewers_at(clipped, t)) for t in range(0, max(int(duration), 0) + 1, step)]
    average = round(sum(v for _, v in points) / len(points), 2) if points else 0.0
    products = []
    for product_id, spans in pins.items():
        on_screen = [c for s in spans if (c := clip(s, duration))]
        seconds = round(sum(s.end - s.start for s in on_screen), 3)
        watchers = sum(
            1
            for viewer_spans in clipped.values()
            if any(v.overlaps(p) for v in viewer_spans for p in on_screen)
        )
        products.append(ProductFigures(product_id, seconds, clicks.get(product_id, 0), watchers))
    return ShowFigures(duration, points, average, products)
