"""What only the ``janus`` mode does, against two real Janus processes (VideoRoom over HTTP).

What every backend does is in test_backend_contract.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveshop.media import create_media_backend
from liveshop.media.base import MediaError
from liveshop.media.janus.backend import JanusMediaBackend
from liveshop.media.synthetic import answer, offer
from tests.media.janus_fixture import JanusCluster
from tests.media.peers import TIMEOUT, Events, Publisher, Viewer
from tests.waiting import until

# how long a WHEP answer takes to reach a client across a network (Janus is checking meanwhile)
ANSWER_LATENCY = 0.3


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
        janus_admin_urls=janus_pair.admin_urls,
        janus_admin_api_secret=janus_pair.admin_secret,
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
    """Viewers are placed on both instances (a remote copy on the second) and all decode."""
    publisher = await live_publisher(backend, events)
    origin, second = janus_pair.urls
    viewers = [Viewer(), Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(backend)
    placement = await backend.where(1)
    assert placement["origin"] == origin
    assert placement["viewers"] == {origin: 1, second: 2}, placement
    assert placement["remotes"] == [second]
    for viewer in viewers:
        indices = await viewer.frame_indices(10)
        assert indices == sorted(indices) and len(set(indices)) == 10, indices
    assert backend.stats(1)["viewers"] == 3
    for viewer in viewers:
        await viewer.pc.close()
    await publisher.pc.close()


async def test_viewers_that_apply_the_answer_late_all_connect(
    backend: JanusMediaBackend, events: Events
) -> None:
    """24 viewers applying the answer 300 ms after it was made all connect (issue 8)."""
    publisher = await live_publisher(backend, events)
    slots = asyncio.Semaphore(4)

    async def late_viewer() -> str:
        async with slots:
            viewer = Viewer()
            connected = asyncio.Event()

            @viewer.pc.on("connectionstatechange")
            def changed() -> None:
                if viewer.pc.connectionState == "connected":
                    connected.set()

            try:
                session = await backend.watch(1, await offer(viewer.pc))
                # not a synchronisation point: the latency under test. Janus starts its checks
                # at `start`, so they reach every socket of the viewer's offer before the
                # viewer applies the answer and drops the sockets bundling made unused
                await asyncio.sleep(ANSWER_LATENCY)
                await answer(viewer.pc, session.answer_sdp)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(connected.wait(), TIMEOUT)
                return viewer.pc.connectionState
            finally:
                await viewer.pc.close()

    states = await asyncio.gather(*(late_viewer() for _ in range(24)))
    assert states == ["connected"] * 24, states
    await publisher.pc.close()


async def test_viewer_rtt_comes_from_the_admin_api(
    backend: JanusMediaBackend, events: Events, janus_pair: JanusCluster
) -> None:
    """Viewers on both instances get a numeric RTT in stats once their RTCP reports arrive."""
    publisher = await live_publisher(backend, events)
    viewers = [Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(backend)
    assert set((await backend.where(1))["viewers"]) == set(janus_pair.urls)
    assert backend.stats(1)["viewerRttMs"] == {"p50": None, "p95": None}  # nothing asked yet

    async def reported() -> dict[str, float] | None:
        for viewer in viewers:  # media (and so RTCP sender/receiver reports) keeps flowing
            await viewer.frame_indices(15)
        await backend.refresh_viewer_rtts(1)
        rtt: dict[str, float] = backend.stats(1)["viewerRttMs"]
        if rtt["p50"] is not None and len(backend.viewer_rtts.values(1)) == 2:
            return rtt
        return None

    # paced by the frames each check receives, not by sleeping
    rtt = await until(reported, timeout=3 * TIMEOUT, interval=0, message="both viewers' RTT")
    assert 0 <= rtt["p50"] <= rtt["p95"] < 1000, rtt
    for viewer in viewers:
        await viewer.pc.close()
    await publisher.pc.close()


async def test_a_janus_going_away_ends_its_viewers_and_restarts_are_picked_up(
    backend: JanusMediaBackend, events: Events, janus_pair: JanusCluster
) -> None:
    """A Janus going away ends its viewers (told to offer again), new viewers go to the origin, a
    restart is used again, and after the origin dies a new publish makes a new origin."""
    publisher = await live_publisher(backend, events)
    origin, second = janus_pair.urls
    on_second, on_origin = Viewer(), Viewer()
    await on_second.start(backend)
    await on_origin.start(backend)
    assert (await backend.where(1))["viewers"] == {origin: 1, second: 1}
    await on_second.frame_indices(5)

    # SIGTERM: Janus 1.1 exits without hanging up its PeerConnections (no DTLS close), so the
    # viewer's own ICE consent checks end it later; liveshop ends the session at once
    janus_pair.instances[1].stop()
    await asyncio.wait_for(backend.instances[1].down.wait(), TIMEOUT)
    lost = await events.wait("viewers_lost")  # its viewers are told to offer again
    assert lost.data["sessions"] == [on_second.session_id]
    health = backend.health()
    assert health["state"] == "degraded"
    assert [i["state"] for i in health["instances"]] == ["up", "down"]
    assert (await backend.where(1))["viewers"] == {origin: 1}
    assert backend.stats(1)["viewers"] == 1
    assert await backend.end_session(1, on_second.session_id) is False
    late = Viewer()
    await late.start(backend)
    assert (await backend.where(1))["viewers"] == {origin: 2}
    indices = await late.frame_indices(5)
    assert indices == sorted(indices)
    await on_origin.frame_indices(5)  # unaffected

    janus_pair.instances[1].start()  # same port: liveshop reconnects and uses it again
    await asyncio.wait_for(backend.instances[1].ready.wait(), TIMEOUT)
    again = Viewer()
    await again.start(backend)
    assert (await backend.where(1))["viewers"] == {origin: 2, second: 1}
    indices = await again.frame_indices(5)
    assert indices == sorted(indices) and indices[0] > 0

    janus_pair.instances[0].stop(kill=True)  # the origin dies: the show ends everywhere
    left = await events.wait("publisher_left")
    assert left.data["reason"] == "janus_down"
    await again.until_ended()  # liveshop hung it up on the second instance
    assert not backend.is_live(1)
    assert backend.stats(1)["viewers"] == 0
    with pytest.raises(MediaError) as err:
        await Viewer().start(backend)
    assert err.value.status == 409

    republished = Publisher()  # the studio publishes again: the show moves to a new origin
    await republished.start(backend)
    await events.wait("publisher_connected", count=2)
    back = Viewer()
    await back.start(backend)
    assert (await backend.where(1))["viewers"] == {second: 1}
    indices = await back.frame_indices(5)
    assert indices == sorted(indices)
    for peer in (on_second, on_origin, late, again, back):
        await peer.pc.close()
    for pub in (publisher, republished):
        await pub.pc.close()


async def test_replacing_hangs_up_the_old_publishers_viewers(
    backend: JanusMediaBackend, events: Events
) -> None:
    """In this mode a replaced publisher's viewers are hung up (they watch again)."""
    first = await live_publisher(backend, events)
    early = Viewer()
    await early.start(backend)
    await early.frame_indices(10)
    second = Publisher()
    second.video.count = 10_000
    await second.start(backend, replace=True)
    await early.until_ended()
    assert backend.stats(1)["viewers"] == 0
    assert [e.kind for e in events.items].count("publisher_left") == 0  # replaced, not left
    for pc in (early.pc, first.pc, second.pc):
        await pc.close()


async def test_an_unreachable_janus_gets_503(events: Events, tmp_path: Path) -> None:
    """With no Janus reachable, start() succeeds (it retries) and a publish gets 503."""

    async def status(coro: object) -> int:
        with pytest.raises(MediaError) as err:
            await coro  # type: ignore[misc]
        assert err.value.detail
        return err.value.status

    nowhere = JanusMediaBackend(
        janus_urls=["http://127.0.0.1:9/janus"],
        media_dir=tmp_path,
        ice_servers=[],
        on_event=events,
    )
    await nowhere.start()  # does not fail: it keeps retrying in the background
    publisher = Publisher()
    assert await status(nowhere.publish(1, await viewer_offer(publisher))) == 503
    await nowhere.close()
    await publisher.pc.close()


async def test_janus_mode_needs_urls(events: Events, tmp_path: Path) -> None:
    """create_media_backend("janus") without Janus URLs raises ValueError."""
    with pytest.raises(ValueError):
        create_media_backend(
            "janus", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=events
        )


async def viewer_offer(peer: Viewer | Publisher) -> str:
    return await offer(peer.pc)
