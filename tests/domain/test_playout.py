"""The playout delay a viewer's player is asked for: a round trip and a margin on long lossy
paths, nothing elsewhere."""

from __future__ import annotations

import itertools

from liveshop.domain.playout import MOST_MS, min_playout_delay_ms, worth_asking


def test_a_long_path_with_rare_repairs_asks_for_a_round_trip_and_a_margin() -> None:
    """150 ms round trips with 0.6 % of packets repaired: about the round trip and a margin."""
    delay = min_playout_delay_ms(0.155, 0.006)
    assert 155 + 60 <= delay <= 155 + 180 and delay % 10 == 0


def test_frequent_repairs_ask_for_a_second_round_trip() -> None:
    """3 % of packets repaired: some repairs are lost too, so two round trips and a margin."""
    delay = min_playout_delay_ms(0.155, 0.03)
    assert 2 * 155 + 60 <= delay <= 2 * 155 + 120


def test_a_short_or_clean_path_asks_for_nothing() -> None:
    """Loopback round trips, a clean long path, or nothing measured yet: no request."""
    assert min_playout_delay_ms(0.002, 0.05) == 0
    assert min_playout_delay_ms(0.150, 0.0) == 0
    assert min_playout_delay_ms(None, 0.05) == 0
    assert min_playout_delay_ms(0.150, None) == 0


def test_more_repairs_never_ask_for_less() -> None:
    """The request grows with the share repaired, by small steps."""
    delays = [min_playout_delay_ms(0.150, share / 1000) for share in range(5, 40)]
    assert delays == sorted(delays)
    assert max(b - a for a, b in itertools.pairwise(delays)) <= 10


def test_the_request_is_capped() -> None:
    """A very long path is not given seconds of latency."""
    assert min_playout_delay_ms(2.0, 0.2) == MOST_MS


def test_small_changes_are_not_asked_again() -> None:
    """A change under the step is kept; a bigger one, or to or from nothing, is asked."""
    assert not worth_asking(210, 220)
    assert worth_asking(210, 260)
    assert worth_asking(0, 140) and worth_asking(140, 0)
