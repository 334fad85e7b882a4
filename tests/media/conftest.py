"""Fixtures shared by the media tests (the Janus processes live in janus_fixture.py)."""

from __future__ import annotations

import pytest

from tests.media.janus_fixture import janus_pair as janus_pair


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Janus-mode media tests get one rerun: real Janus processes in a namespace now and then miss
    a frame deadline on a loaded 2-core machine (seen on the code before this session too). A
    known debt, listed in the session note; every other test runs once."""
    for item in items:
        if "janus" in item.nodeid and "tests/media/" in item.nodeid:
            item.add_marker(pytest.mark.flaky(reruns=1))
