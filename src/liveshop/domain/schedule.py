"""When a show may be scheduled."""

from __future__ import annotations

from datetime import datetime, timedelta

# a little leeway for the seller's clock and the time the form took
PAST_LEEWAY = timedelta(minutes=5)
FURTHEST = timedelta(days=366)


def schedule_problem(at: datetime, now: datetime) -> str | None:
    """Why ``at`` cannot be a show's planned time (both timezone-aware), or None when it can:
    not in the past (5 minutes of leeway), at most a year ahead."""
    if at < now - PAST_LEEWAY:
        return "the scheduled time is in the past"
    if at > now + FURTHEST:
        return "the scheduled time is more than a year ahead"
    return None
