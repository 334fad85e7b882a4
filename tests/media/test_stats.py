"""The pure figures of media/stats.py: the missed share of a viewer's packets and its loss."""

from __future__ import annotations

import pytest

from liveshop.media import stats
from liveshop.media.stats import MissedShare, ReportedLoss, media_stats, viewer_loss


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(stats.time, "monotonic", fake)
    return fake


def test_a_missed_share_counts_each_sequence_number_once(clock: Clock) -> None:
    """10 of 100 packets NACKed, some of them three times: the window's share is 10 %."""
    share = MissedShare(window=5.0)
    for _ in range(3):
        for seq in range(65530, 65540):  # across the 16-bit wrap
            share.missed(seq % 65536)
    clock.now += 5.0
    assert share.share(sent=100) == pytest.approx(0.10)


def test_a_missed_share_is_unknown_before_a_window_has_passed(clock: Clock) -> None:
    """Before ``window`` seconds no share is given; afterwards each window stands alone."""
    share = MissedShare(window=5.0)
    share.missed(1)
    clock.now += 4.9
    assert share.share(sent=50) is None
    clock.now += 0.1
    assert share.share(sent=50) == pytest.approx(0.02)
    clock.now += 5.0
    assert share.share(sent=150) == 0.0  # nothing missed in the second window


def test_viewer_loss_is_the_larger_of_reported_and_missed() -> None:
    """A repaired loss (NACKs) shows even when the receiver report says nothing was lost."""
    assert viewer_loss(0.0, 0.2) == 0.2
    assert viewer_loss(0.05, None) == 0.05
    assert viewer_loss(None, None) is None


def test_media_stats_give_loss_percentiles() -> None:
    """Losses in percent become p50/p95 beside the RTTs; none known gives None."""
    answer = media_stats(None, 3, [10.0, 20.0, 30.0], [0.0, 1.0, 10.0])
    assert answer["viewerLossPct"] == {"p50": 1.0, "p95": 9.1}
    assert media_stats(None, 0, [])["viewerLossPct"] == {"p50": None, "p95": None}


def test_reported_loss_is_summed_over_enough_packets() -> None:
    """Reports every 6 packets with one loss each are judged together, not as 17 % each."""
    loss = ReportedLoss(min_packets=50)
    assert loss.add(0.0, 1000, 0) is None
    results = [loss.add(0.1 * n, 1000 + 6 * n, n // 4) for n in range(1, 10)]
    assert results[:8] == [None] * 8  # 48 packets: the window is still open
    assert results[8] == pytest.approx(2 / 54)


def test_reported_loss_closes_a_sparse_window_after_max_seconds() -> None:
    """A stream of few packets still gets a figure, after ``max_seconds``."""
    loss = ReportedLoss(min_packets=50, max_seconds=2.0)
    loss.add(0.0, 100, 0)
    assert loss.add(1.0, 110, 1) is None
    assert loss.add(2.0, 120, 5) == pytest.approx(0.25)


def test_reported_loss_never_goes_below_zero() -> None:
    """Retransmissions that lower the cumulative count read as no loss."""
    loss = ReportedLoss(min_packets=10)
    loss.add(0.0, 100, 5)
    assert loss.add(1.0, 200, 2) == 0.0


def test_reported_loss_starts_over_on_a_new_stream() -> None:
    """A sequence number that goes backwards opens a new window instead of a figure."""
    loss = ReportedLoss(min_packets=10)
    loss.add(0.0, 5000, 3)
    assert loss.add(1.0, 40, 0) is None
    assert loss.add(2.0, 60, 2) == pytest.approx(0.1)
