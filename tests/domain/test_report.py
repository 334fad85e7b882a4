"""Show report arithmetic."""

from __future__ import annotations

from liveshop.domain.report import Interval, figures


def test_viewers_over_time_one_point_a_minute_and_average() -> None:
    """Points at 0, 60, 120 s count viewers present then; the average is their mean."""
    sessions = {
        "a": [Interval(0, 130)],
        "b": [Interval(50, 70)],
        "c": [Interval(61, 62), Interval(100, 200)],
    }
    result = figures(150, sessions, {}, {})
    assert result.viewers_over_time == [(0, 1), (60, 2), (120, 2)]
    assert result.average_viewers == round(5 / 3, 2)


def test_product_seconds_clicks_and_click_through() -> None:
    """Seconds on screen sum the pins (clipped to the show); click-through divides by viewers who saw it."""
    sessions = {"a": [Interval(0, 30)], "b": [Interval(40, 90)], "c": [Interval(95, 99)]}
    pins = {7: [Interval(20, 50), Interval(80, 500)], 8: [Interval(91, 94)]}
    result = figures(100, sessions, pins, {7: 1})
    by_id = {p.product_id: p for p in result.products}
    assert by_id[7].seconds_on_screen == 30 + 20
    assert by_id[7].viewers_while_pinned == 3 and by_id[7].click_through == round(1 / 3, 4)
    assert by_id[8].viewers_while_pinned == 0 and by_id[8].click_through == 0.0
