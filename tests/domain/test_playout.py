"""The playout delay a viewer's player is asked for: a round trip and a margin on long lossy
paths, nothing elsewhere."""

from __future__ import annotations

from liveshop.domain.playout import MOST_MS, min_playout_delay_ms, worth_asking


def test_a_long_path_with_repairs_asks_for_a_round_trip_and_a_margin() -> None:
    """150 ms round trips with 3 % of packets repaired: at least the round trip, in 10 ms."""
    delay = min_playout_delay_ms(0.155, 0.03)
    assert 155 < delay <= 260 and delay % 10 == 0


def test_a_short_or_clean_path_asks_for_nothing() -> None:
    """Loopback round trips, a clean long path, or nothing measured yet: no request."""
    assert min_playout_delay_ms(0.002, 0.05) == 0
    assert min_playout_delay_ms(0.150, 0.0) == 0
    assert min_playout_delay_ms(None, 0.05) == 0
    assert min_playout_delay_ms(0.150, None) == 0


def test_the_request_is_capped() -> None:
    """A very long path is not given seconds of latency."""
    assert min_playout_delay_ms(2.0, 0.2) == MOST_MS


def test_small_changes_are_not_asked_again() -> None:
    """A change under the step is kept; a bigger one, or to or from nothing, is asked."""
    assert not worth_asking(210, 220)
    assert worth_asking(210, 260)
    assert worth_asking(0, 140) and worth_asking(140, 0)
