"""The ``janus`` media mode against two real Janus processes (VideoRoom over the HTTP API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from janus_fixture import Events, JanusCluster, Publisher, Viewer
from PIL import Image

from liveshop.media import create_media_backend
from liveshop.media.base import MediaError
from liveshop.media.janus import JanusMediaBackend

TIMEOUT = 10.0


@pytest.fixture
async def events() -> Events:
    return Events()


@pytest.fixture
async def backend(
    janus_pair: JanusCluster, tmp_path: Path, events: Events
) -> AsyncIterator[JanusMediaBackend]:
    media = create_media_backend(
        "janus",
        media_dir=tmp_path / "media",
        ice_servers=[],
        public_ip="",
        on_event=events,
        janus_urls=janus_pair.urls,
        janus_api_secret=janus_pair.api_secret,
        janus_admin_secret=janus_pair.admin_key,
    )
    assert isinstance(media, JanusMediaBackend)
    await media.start()
    assert all(inst.up for inst in media.instances)
    yield media
    await media.close()


async def live_publisher(backend: JanusMediaBackend, events: Events, **kw: object) -> Publisher:
    publisher = Publisher(**kw)  # type: ignore[arg-type]
    await publisher.start(backend)
    await events.wait("publisher_connected")
    return publisher


async def test_viewers_on_both_instances_decode_the_same_show(
    backend: JanusMediaBackend, events: Events, janus_pair: JanusCluster
) -> None:
    publisher = await live_publisher(backend, events)
    origin, second = janus_pair.urls
    viewers = [Viewer(), Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(backend)
    placement = backend.placement(1)
    assert placement["origin"] == origin
    assert placement["viewers"] == {origin: 1, second: 2}, placement
    assert placement["remotes"] == [second]
    seen = []
    for viewer in viewers:
        indices = await viewer.frame_indices(30)
        assert indices == sorted(indices) and len(set(indices)) == 30, indices
        assert indices[-1] - indices[0] < 40, "frames were lost"
        assert indices[-1] < publisher.video.count
        seen.append(indices)
        audio = await asyncio.wait_for(viewer.tracks["audio"].recv(), TIMEOUT)
        assert audio.sample_rate == 48000
    stats = backend.stats(1)
    assert stats["viewers"] == 3
    assert stats["publisher"]["codec"] == "VP8"
    assert (stats["publisher"]["width"], stats["publisher"]["height"]) == (320, 240)
    assert backend.is_live(1)
    for viewer in viewers:
        await viewer.pc.close()
    await publisher.pc.close()
