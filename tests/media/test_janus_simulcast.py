"""Simulcast in ``janus`` mode against two real Janus processes: the tests' three-layer VP8
publisher (f 640×360, h 320×180, q 160×90; src/liveshop/media/synthetic_simulcast.py) and plain
aiortc viewers that decode in the background."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveshop.media.janus.backend import JanusMediaBackend
from liveshop.media.synthetic_simulcast import SimulcastPublisher
from tests.media.janus_fixture import JanusCluster
from tests.media.peers import Events, Publisher, Viewer
from tests.media.test_simulcast import Watching
from tests.waiting import until

SWITCH_TIMEOUT = 20.0


@pytest.fixture
async def backend(
    janus_pair: JanusCluster, tmp_path: Path, events: Events
) -> AsyncIterator[JanusMediaBackend]:
    media = JanusMediaBackend(
        janus_urls=janus_pair.urls,
        media_dir=tmp_path / "media",
        ice_servers=[],
        on_event=events,
        api_secret=janus_pair.api_secret,
        admin_secret=janus_pair.admin_key,
        admin_urls=janus_pair.admin_urls,
        admin_api_secret=janus_pair.admin_secret,
        record=False,  # not under test here
    )
    await media.start()
    yield media
    await media.close()


@pytest.fixture
async def simulcast(
    backend: JanusMediaBackend, events: Events
) -> AsyncIterator[SimulcastPublisher]:
    publisher = SimulcastPublisher()
    await publisher.start(backend)
    await events.wait("publisher_connected")
    yield publisher
    await publisher.close()


async def watching(backend: JanusMediaBackend) -> Watching:
    watch = Watching(Viewer())
    await watch.start(backend)  # type: ignore[arg-type]
    return watch


def last(watch: Watching, width: int, count: int = 3) -> bool:
    return watch.widths[-count:] == [width] * count


async def test_simulcast_offer_is_answered_and_both_instances_send_the_top_layer(
    backend: JanusMediaBackend, simulcast: SimulcastPublisher, janus_pair: JanusCluster
) -> None:
    """Janus answers f/h/q as simulcast; viewers on the origin and on the remote copy both
    decode the full layer (the copy receives every substream)."""
    assert "a=simulcast:recv f;h;q" in simulcast.answer_sdp
    show = await backend.placement.get_show(1)
    assert show is not None and show.layers == ["q", "h", "f"]
    remote, local = await watching(backend), await watching(backend)
    assert (await backend.where(1))["viewers"] == {url: 1 for url in janus_pair.urls}
    for watch in (remote, local):
        await until(lambda w=watch: last(w, 640), timeout=SWITCH_TIMEOUT, message="640 wide")  # type: ignore[misc]
        await watch.close()


async def test_a_small_player_switches_the_substream(
    backend: JanusMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """A 90-pixel player gets substream 0 (160 wide, as Janus reports), full screen the top."""
    watch = await watching(backend)
    await until(lambda: last(watch, 640), timeout=SWITCH_TIMEOUT, message="640 wide frames")
    session = watch.viewer.session_id
    assert backend.set_viewer_size(1, session, None, 90)
    link = backend.layers.links[session]
    await until(lambda: last(watch, 160), timeout=SWITCH_TIMEOUT, message="160 wide frames")
    await until(lambda: link.substream == 0, message="Janus reporting substream 0")
    assert backend.set_viewer_size(1, session, None, None)
    await until(lambda: last(watch, 640), timeout=SWITCH_TIMEOUT, message="640 wide again")
    await watch.close()


async def test_stats_count_the_viewers_per_layer(
    backend: JanusMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """The stats list each viewer's layer and link and the count per layer."""
    small, large = await watching(backend), await watching(backend)
    backend.set_viewer_size(1, small.viewer.session_id, None, 180)
    await until(
        lambda: last(small, 320) and last(large, 640), timeout=SWITCH_TIMEOUT, message="sizes"
    )
    stats = backend.stats(1)
    assert stats["viewersPerLayer"] == {"h": 1, "f": 1}
    assert sorted(link["layer"] for link in stats["viewerLinks"]) == ["f", "h"]
    assert {"bandwidthKbps", "loss", "rttMs", "switches"} <= set(stats["viewerLinks"][0])
    for watch in (small, large):
        await watch.close()


async def test_a_single_layer_publisher_is_forwarded_as_before(
    backend: JanusMediaBackend, events: Events
) -> None:
    """A one-layer offer gets no simulcast answer; its viewers decode and are not controlled."""
    publisher = Publisher()
    await publisher.start(backend)
    await events.wait("publisher_connected")
    show = await backend.placement.get_show(1)
    assert show is not None and show.layers == []
    viewer = Viewer()
    await viewer.start(backend)
    assert backend.set_viewer_size(1, viewer.session_id, None, 90)
    indices = await viewer.frame_indices(10)
    assert indices == sorted(indices) and len(set(indices)) == 10
    assert backend.layers.links == {}
    assert backend.stats(1)["viewersPerLayer"] == {}
    await viewer.pc.close()
    await publisher.pc.close()
