"""The soak run's assertions on a short show inside the suite (``python -m bench.soak --minutes 30``
is the full one): memory, file descriptors and tasks flat, fan-out latency stable, the recording as
long as the show, nothing logged at ERROR."""

from __future__ import annotations

import pytest
from bench import soak

from tests.conftest import in_thread

pytestmark = pytest.mark.slow


def test_a_two_minute_show_leaks_nothing_and_records_all_of_it() -> None:
    """Two minutes of chat, likes, WHEP viewers and recording pass every soak check."""
    result = in_thread(lambda: soak.run(2.0, warmup=0.4, shoppers=30, rate=2.0, viewers=2))
    soak.report(result)
    assert {row[0].split(" (")[0] for row in result.rows} >= {
        "RSS",
        "file descriptors",
        "asyncio tasks",
        "fan-out p99",
        "recording duration",
        "ERROR lines in the log",
    }
    failed = [row for row in result.rows if not row[4]]
    assert not failed, failed
