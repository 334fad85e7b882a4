"""The ``janus`` media mode against two real Janus processes (VideoRoom over the HTTP API)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from PIL import Image

from liveshop.media import create_media_backend
from liveshop.media.base import MediaError
from liveshop.media.janus.backend import JanusMediaBackend
from liveshop.media.synthetic import answer, offer
from tests.media.janus_fixture import JanusCluster
from tests.media.peers import TIMEOUT, Events, Publisher, Viewer

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
    """Viewers placed on both Janus instances decode the same frames in order."""
    publisher = await live_publisher(backend, events)
    origin, second = janus_pair.urls
    viewers = [Viewer(), Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(backend)
    placement = await backend.where(1)
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

    async def reported() -> dict[str, float]:
        while True:
            for viewer in viewers:  # media (and so RTCP sender/receiver reports) keeps flowing
                await viewer.frame_indices(15)
            await backend.refresh_viewer_rtts(1)
            rtt: dict[str, float] = backend.stats(1)["viewerRttMs"]
            if rtt["p50"] is not None and len(backend.viewer_rtts.values(1)) == 2:
                return rtt

    rtt = await asyncio.wait_for(reported(), 3 * TIMEOUT)
    assert 0 <= rtt["p50"] <= rtt["p95"] < 1000, rtt
    for viewer in viewers:
        await viewer.pc.close()
    await publisher.pc.close()


async def test_a_janus_going_away_ends_its_viewers_and_restarts_are_picked_up(
    backend: JanusMediaBackend, events: Events, janus_pair: JanusCluster
) -> None:
    """A Janus going away ends its viewers, new viewers go to the origin, a restart is used again."""
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
    for peer in (on_second, on_origin, late, again):
        await peer.pc.close()
    await publisher.pc.close()


async def test_publisher_leaving_ends_viewers_and_records(
    backend: JanusMediaBackend, events: Events, tmp_path: Path
) -> None:
    """The publisher leaving ends viewers everywhere and leaves a recording with a thumbnail."""
    publisher = await live_publisher(backend, events)
    viewers = [Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(backend)
    await viewers[0].frame_indices(120)  # ~4 s, past the thumbnail point
    published = publisher.video.count / 30
    await publisher.pc.close()
    left = await events.wait("publisher_left")
    assert left.livestream_id == 1 and left.data["reason"] == "hangup"
    for viewer in viewers:
        await viewer.until_ended()
    assert not backend.is_live(1)
    ready = await events.wait("recording_ready")
    path = Path(ready.data["path"])
    assert path == tmp_path / "media" / "livestreams" / "1" / "recording.webm"
    assert ready.data["segment"] == 1 and ready.data["codec"] == "VP8"
    with av.open(str(path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        last = 0.0
        for frame in container.decode(video=0):
            last = float(frame.time or 0.0)
    assert abs(last - published) <= 1.0, (last, published)
    assert abs(ready.data["duration"] - published) <= 1.0
    with Image.open(ready.data["thumbnail"]) as image:
        assert image.format == "JPEG" and image.size == (320, 240)
    for viewer in viewers:
        await viewer.pc.close()


async def test_h264_show_and_a_vp8_only_viewer(backend: JanusMediaBackend, events: Events) -> None:
    """H.264 shows record to Matroska; a VP8-only viewer gets 415 and leaves nothing behind."""
    publisher = await live_publisher(backend, events, codec="H264", audio=False)
    viewer = Viewer()
    await viewer.start(backend)
    indices = await viewer.frame_indices(20)
    assert indices == sorted(indices)
    assert backend.stats(1)["publisher"]["codec"] == "H264"
    load = [inst.subscribers for inst in backend.instances]
    with pytest.raises(MediaError) as err:
        await Viewer(video_codecs=["VP8"]).start(backend)
    assert err.value.status == 415
    assert [inst.subscribers for inst in backend.instances] == load  # nothing left behind
    await backend.end_show(1)
    ready = await events.wait("recording_ready")
    assert ready.data["path"].endswith("recording.mkv")
    await viewer.until_ended()
    await viewer.pc.close()
    await publisher.pc.close()


async def test_replace_and_delete(backend: JanusMediaBackend, events: Events) -> None:
    """Replacing the publisher and DELETE on sessions work through Janus."""
    first = await live_publisher(backend, events)
    with pytest.raises(MediaError) as err:
        await Publisher().start(backend)
    assert err.value.status == 409
    early = Viewer()
    await early.start(backend)
    await early.frame_indices(10)
    second = Publisher()
    second.video.count = 10_000
    session_id = await second.start(backend, replace=True)
    await early.until_ended()  # in this mode a replaced publisher's viewers are hung up
    await events.wait("publisher_connected", count=2)
    viewer = Viewer()
    await viewer.start(backend)
    indices = await viewer.frame_indices(10)
    assert indices[0] >= 10_000
    ready = await events.wait("recording_ready")
    assert ready.data["segment"] == 1
    assert await backend.end_session(1, viewer.session_id) is True
    await viewer.until_ended()
    assert backend.stats(1)["viewers"] == 0
    assert await backend.end_session(1, session_id) is True
    left = [e for e in events.items if e.kind == "publisher_left"]
    assert [e.data["reason"] for e in left] == ["deleted"]
    ready = await events.wait("recording_ready", count=2)
    assert ready.data["path"].endswith("recording-2.webm")
    for pc in (early.pc, viewer.pc, first.pc, second.pc):
        await pc.close()


async def test_offer_errors_and_unreachable_janus(
    backend: JanusMediaBackend, events: Events, tmp_path: Path
) -> None:
    """Bad offers and unreachable Janus instances get clear errors."""

    async def status(coro: object) -> int:
        with pytest.raises(MediaError) as err:
            await coro  # type: ignore[misc]
        assert err.value.detail
        return err.value.status

    assert await status(backend.publish(1, "")) == 400
    assert await status(backend.publish(1, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n")) == 400
    viewer = Viewer()
    assert await status(backend.watch(1, await viewer_offer(viewer))) == 409
    await viewer.pc.close()
    assert await backend.end_session(1, "nope") is False

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
    with pytest.raises(ValueError):
        create_media_backend(
            "janus", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=events
        )


async def viewer_offer(peer: Viewer | Publisher) -> str:
    return await offer(peer.pc)
