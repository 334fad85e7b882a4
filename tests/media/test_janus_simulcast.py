"""Simulcast in ``janus`` mode against two real Janus processes: the tests' three-layer
publisher (f 640×360, h 320×180, q 160×90; src/liveshop/media/synthetic_simulcast.py; VP8, or
H.264 where a test is parametrized over the codec) and plain aiortc viewers that decode in the
background."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from liveshop.media.janus.backend import JanusMediaBackend
from liveshop.media.negotiation import negotiated_streams
from liveshop.media.rtputil import VP8
from liveshop.media.synthetic_simulcast import SimulcastPublisher
from tests.media.janus_fixture import JanusCluster
from tests.media.peers import Events, Publisher, Viewer
from tests.media.test_simulcast import BOTH_CODECS, Watching, assert_switches_decode
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
    backend: JanusMediaBackend, events: Events, request: pytest.FixtureRequest
) -> AsyncIterator[SimulcastPublisher]:
    """A live three-layer publisher (VP8 unless the test parametrizes ``simulcast``)."""
    publisher = SimulcastPublisher(codec=getattr(request, "param", VP8))
    await publisher.start(backend)
    await events.wait("publisher_connected")
    yield publisher
    await publisher.close()


async def watching(backend: JanusMediaBackend, indices: bool = False) -> Watching:
    watch = Watching(Viewer(), indices)
    await watch.start(backend)  # type: ignore[arg-type]
    return watch


def last(watch: Watching, width: int, count: int = 3) -> bool:
    return watch.widths[-count:] == [width] * count


@BOTH_CODECS
async def test_simulcast_offer_is_answered_and_both_instances_send_the_top_layer(
    backend: JanusMediaBackend, simulcast: SimulcastPublisher, janus_pair: JanusCluster
) -> None:
    """Janus answers f/h/q as simulcast in the offered codec; viewers on the origin and on the
    remote copy both receive that codec and decode the full layer (the copy receives every
    substream)."""
    assert "a=simulcast:recv f;h;q" in simulcast.answer_sdp
    assert negotiated_streams(simulcast.answer_sdp)["video"].codec == simulcast.codec
    show = await backend.placement.get_show(1)
    assert show is not None and show.layers == ["q", "h", "f"]
    remote, local = await watching(backend), await watching(backend)
    assert (await backend.where(1))["viewers"] == {url: 1 for url in janus_pair.urls}
    assert [w.codec for w in (remote, local)] == [simulcast.codec] * 2
    for watch in (remote, local):
        await until(lambda w=watch: last(w, 640), timeout=SWITCH_TIMEOUT, message="640 wide")  # type: ignore[misc]
        await watch.close()


@BOTH_CODECS
async def test_a_small_player_switches_the_substream(
    backend: JanusMediaBackend, simulcast: SimulcastPublisher
) -> None:
    """A 90-pixel player gets substream 0 (160 wide, as Janus reports), full screen the top;
    each switch decodes from its first frame on (a keyframe that came three frames after the
    request)."""
    simulcast.keyframe_delay = 3
    watch = await watching(backend, indices=True)
    await until(lambda: last(watch, 640), timeout=SWITCH_TIMEOUT, message="640 wide frames")
    session = watch.viewer.session_id
    assert backend.set_viewer_size(1, session, None, 90)
    link = backend.layers.links[session]
    await until(lambda: last(watch, 160), timeout=SWITCH_TIMEOUT, message="160 wide frames")
    await until(lambda: link.substream == 0, message="Janus reporting substream 0")
    assert backend.set_viewer_size(1, session, None, None)
    await until(lambda: last(watch, 640), timeout=SWITCH_TIMEOUT, message="640 wide again")
    assert_switches_decode(watch, 2)
    await watch.close()


def viewer_port(watch: Watching, address: str) -> int:
    """The UDP port the viewer receives on (its bundled transport: the first m-line's)."""
    first = watch.viewer.pc.localDescription.sdp.split("m=")[1]
    for line in first.split("\r\n"):
        parts = line.split()
        if line.startswith("a=candidate:") and len(parts) > 5 and parts[4] == address:
            return int(parts[5])
    raise AssertionError("the viewer has no candidate on the namespace's near address")


@contextmanager
def policed(cluster: JanusCluster, port: int, kbytes_per_s: int) -> Iterator[None]:
    """What Janus sends to one UDP port of this side, over ``kbytes_per_s``, is dropped (an
    nftables policer in the Janus namespace; the APIs and the monitor are not affected)."""
    ns = cluster.namespace
    nft = ns.command("nft", "-f", "-")
    match = f"ip daddr {ns.near} udp dport {port}"
    limit = f"limit rate over {kbytes_per_s} kbytes/second burst 16 kbytes drop"
    rules = (
        "table inet liveshop_policer {\n chain out {\n"
        f"  type filter hook output priority 0;\n  {match} {limit}\n }}\n}}\n"
    )
    subprocess.run(nft, input=rules, text=True, check=True, timeout=10)
    try:
        yield
    finally:
        delete = ns.command("nft", "delete", "table", "inet", "liveshop_policer")
        subprocess.run(delete, check=False, timeout=10)


async def test_a_lossy_link_moves_the_viewer_down_and_a_clean_one_back_up(
    backend: JanusMediaBackend, simulcast: SimulcastPublisher, janus_pair: JanusCluster
) -> None:
    """Policed at 500 kb/s, the loss the viewer reports makes Janus forward it a lower
    substream than the 640-wide one (~900 kb/s); once the policer is gone it is back on it."""
    watch = await watching(backend)
    await until(lambda: last(watch, 640), timeout=SWITCH_TIMEOUT, message="640 wide frames")
    link = backend.layers.links[watch.viewer.session_id]
    port = viewer_port(watch, janus_pair.namespace.near)
    with policed(janus_pair, port, 62):
        await until(lambda: link.target in (0, 1), timeout=SWITCH_TIMEOUT, message="a switch down")
        await until(lambda: link.substream in (0, 1), message="Janus forwarding it")
    await until(lambda: link.substream == 2, timeout=SWITCH_TIMEOUT, message="the top again")
    seen = len(watch.widths)
    await until(
        lambda: len(watch.widths) >= seen + 10 and last(watch, 640, 10),
        timeout=SWITCH_TIMEOUT,
        message="640 wide frames again",
    )
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
