"""What every media backend that carries media promises (liveshop.media.base.MediaBackend).

One suite, run through ``create_media_backend`` and the public interface only, against:

* ``sfu``: the built-in forwarder, its peers on loopback;
* ``janus``: two real Janus instances (tests/media/janus_fixture.py, inside a network namespace);
* ``janus-2-processes``: two janus backends sharing placement in Redis, like two liveshop
  processes: WHIP goes to the first, WHEP and ``end_show`` to the second, DELETE to the first.

Mode-specific behaviour stays in test_sfu.py, test_janus.py and test_janus_shared.py; p2p, which
carries no media, has test_p2p.py.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack
from PIL import Image

from liveshop.media import create_media_backend
from liveshop.media.base import MediaBackend, MediaError
from liveshop.media.synthetic import offer
from tests.conftest import REDIS_HOST, REDIS_PORT, require
from tests.media.peers import TIMEOUT, Events, Publisher, Viewer, until_recording
from tests.medianet import LOOPBACK
from tests.waiting import until

MODES = ["sfu", "janus", "janus-2-processes"]


@dataclass
class Stage:
    """Where each call goes. With one backend every role is the same object."""

    mode: str
    publishing: MediaBackend  # WHIP, DELETE, stats; its events are ``events``
    watching: MediaBackend  # WHEP, end_show
    events: Events
    media_dir: Path

    async def live_publisher(self, **kw: Any) -> Publisher:
        publisher = Publisher(**kw)
        await publisher.start(self.publishing)
        await self.events.wait("publisher_connected")
        return publisher

    async def viewer(self, **kw: Any) -> Viewer:
        viewer = Viewer(**kw)
        await viewer.start(self.watching)
        return viewer

    async def stats(self) -> dict[str, Any]:
        await self.publishing.refresh(1)
        return self.publishing.stats(1)

    async def is_live(self, backend: MediaBackend) -> bool:
        await backend.refresh(1)
        return backend.is_live(1)


@pytest.fixture(params=MODES)
async def stage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stage]:
    mode: str = request.param
    common: dict[str, Any] = {"ice_servers": [], "public_ip": ""}
    made: list[MediaBackend] = []
    events = Events()
    if mode == "sfu":
        backend = create_media_backend(
            "sfu", media_dir=tmp_path, on_event=events, media_addresses=[LOOPBACK], **common
        )
        made.append(backend)
    else:
        cluster = request.getfixturevalue("janus_pair")
        common |= {
            "janus_urls": cluster.urls,
            "janus_api_secret": cluster.api_secret,
            "janus_admin_secret": cluster.admin_key,
            "janus_admin_urls": cluster.admin_urls,
            "janus_admin_api_secret": cluster.admin_secret,
            "media_addresses": [cluster.namespace.near],
        }
        if mode == "janus-2-processes":
            require("Redis", REDIS_HOST, REDIS_PORT)
            common |= {
                "redis_url": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
                "redis_prefix": f"contract{uuid.uuid4().hex[:8]}:",
            }
        made.append(create_media_backend("janus", media_dir=tmp_path, on_event=events, **common))
        if mode == "janus-2-processes":
            other = create_media_backend(
                "janus", media_dir=tmp_path / "b", on_event=Events(), **common
            )
            made.append(other)
    for backend in made:
        await backend.start()
    try:
        yield Stage(mode, made[0], made[-1], events, tmp_path)
    finally:
        for backend in made:
            await backend.close()


async def close(*peers: Publisher | Viewer) -> None:
    for peer in peers:
        await peer.pc.close()


async def test_a_publisher_goes_live(stage: Stage) -> None:
    """A publish answers SDP, then publisher_connected (its session, its codec) and is_live."""
    publisher = Publisher()
    session_id = await publisher.start(stage.publishing)
    connected = await stage.events.wait("publisher_connected")
    assert connected.livestream_id == 1
    assert connected.data == {"session_id": session_id, "codec": "VP8"}
    assert await stage.is_live(stage.watching)
    await close(publisher)


async def test_a_second_publisher_gets_409(stage: Stage) -> None:
    """A second publisher without replace is refused with 409 and the first stays live."""
    first = await stage.live_publisher()
    second = Publisher()
    with pytest.raises(MediaError) as err:
        await second.start(stage.watching)
    assert err.value.status == 409
    assert await stage.is_live(stage.publishing)
    await close(first, second)


async def test_viewers_decode_the_frames_in_order(stage: Stage) -> None:
    """Two viewers decode the publisher's frames in order, without gaps, and its audio."""
    publisher = await stage.live_publisher()
    viewers = [await stage.viewer(), await stage.viewer()]
    for viewer in viewers:
        indices = await viewer.frame_indices(30)
        assert indices == sorted(indices) and len(set(indices)) == 30, indices
        assert indices[-1] - indices[0] < 40, "frames were lost"
        audio = await asyncio.wait_for(viewer.tracks["audio"].recv(), TIMEOUT)
        assert audio.sample_rate == 48000
    await close(*viewers, publisher)


async def test_a_late_viewer_starts_within_seconds(stage: Stage) -> None:
    """A viewer joining mid-show gets a keyframe: it decodes current frames within seconds."""
    publisher = await stage.live_publisher()
    first = await stage.viewer()
    await first.frame_indices(45)  # ~1.5 s of stream: the first keyframe is long gone
    started = time.monotonic()
    late = await stage.viewer()
    indices = await late.frame_indices(3)
    # the publisher's next keyframe of its own is minutes away (libvpx's default interval): only
    # a keyframe request gets the viewer going this soon, on a loaded machine too
    assert time.monotonic() - started < 5.0
    assert indices == sorted(indices) and indices[0] >= 45
    await close(late, first, publisher)


async def test_stats_describe_the_publisher_and_count_viewers(stage: Stage) -> None:
    """stats(): the publisher's codec and size, the viewer count, the RTT and loss keys."""
    publisher = await stage.live_publisher()
    viewer = await stage.viewer()
    await viewer.frame_indices(10)
    await until_recording(stage.publishing)  # janus: the monitor measures, and it may come last
    stats = await stage.stats()
    assert set(stats) == {
        "publisher",
        "viewers",
        "viewerRttMs",
        "viewerLossPct",
        "viewerLinks",
        "viewersPerLayer",
    }
    assert set(stats["publisher"]) >= {
        "bitrateKbps",
        "fps",
        "width",
        "height",
        "codec",
        "packetsLost",
    }
    assert stats["publisher"]["codec"] == "VP8"
    assert (stats["publisher"]["width"], stats["publisher"]["height"]) == (320, 240)
    assert stats["viewers"] == 1
    assert set(stats["viewerRttMs"]) == {"p50", "p95"}
    assert set(stats["viewerLossPct"]) == {"p50", "p95"}
    await close(viewer, publisher)


async def test_stats_of_an_unknown_show_are_empty(stage: Stage) -> None:
    """stats() of a show nobody publishes: no publisher, no viewers."""
    stats = await stage.stats()
    assert stats["publisher"] is None and stats["viewers"] == 0


async def test_delete_ends_a_viewer_session(stage: Stage) -> None:
    """end_session (WHEP DELETE) ends the viewer's track, once; the count drops to zero."""
    publisher = await stage.live_publisher()
    viewer = await stage.viewer()
    await viewer.frame_indices(5)
    assert await stage.publishing.end_session(1, viewer.session_id) is True
    await viewer.until_ended()
    assert await stage.publishing.end_session(1, viewer.session_id) is False
    assert (await stage.stats())["viewers"] == 0
    await close(viewer, publisher)


async def test_delete_ends_the_publisher(stage: Stage) -> None:
    """end_session (WHIP DELETE) of the publisher: publisher_left "deleted", no longer live."""
    publisher = Publisher()
    session_id = await publisher.start(stage.publishing)
    await stage.events.wait("publisher_connected")
    assert await stage.publishing.end_session(1, session_id) is True
    left = await stage.events.wait("publisher_left")
    assert left.data == {"session_id": session_id, "reason": "deleted"}
    assert not await stage.is_live(stage.publishing)
    await close(publisher)


async def test_an_unknown_session_is_not_ended(stage: Stage) -> None:
    """end_session of an unknown session answers False."""
    assert await stage.publishing.end_session(1, "nope") is False


async def test_end_show_ends_the_publisher_and_every_viewer(stage: Stage) -> None:
    """end_show: publisher_left, every viewer's track ends, not live, new viewers get 409."""
    publisher = await stage.live_publisher()
    viewers = [await stage.viewer(), await stage.viewer()]
    for viewer in viewers:
        await viewer.frame_indices(5)  # connected: ending now ends their tracks
    await stage.watching.end_show(1)
    left = await stage.events.wait("publisher_left")
    assert left.livestream_id == 1
    for viewer in viewers:
        await viewer.until_ended()
    assert not await stage.is_live(stage.publishing)
    with pytest.raises(MediaError) as err:
        await stage.viewer()
    assert err.value.status == 409
    await close(*viewers, publisher)


async def test_the_publisher_leaving_ends_viewers_and_leaves_a_recording(stage: Stage) -> None:
    """The publisher hanging up ends the viewers and leaves a recording of its length + thumbnail."""
    publisher = await stage.live_publisher()
    viewer = await stage.viewer()
    await until_recording(stage.publishing)
    unrecorded = publisher.video.count  # at most (janus: the recording joins after the publisher)
    await viewer.frame_indices(120)  # ~4 s, past the thumbnail point
    published = publisher.video.count / 30
    await publisher.pc.close()
    left = await stage.events.wait("publisher_left")
    assert left.livestream_id == 1
    await viewer.until_ended()
    assert not await stage.is_live(stage.publishing)
    ready = await stage.events.wait("recording_ready")
    path = Path(ready.data["path"])
    assert path == stage.media_dir / "livestreams" / "1" / "recording.webm"
    assert ready.data["segment"] == 1 and ready.data["codec"] == "VP8"
    with av.open(str(path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        last = 0.0
        for frame in container.decode(video=0):
            last = float(frame.time or 0.0)
    assert published - unrecorded / 30 - 1.0 <= last <= published + 1.0, (last, published)
    with Image.open(ready.data["thumbnail"]) as image:
        assert image.format == "JPEG" and image.size == (320, 240)
    await close(viewer)


async def test_h264_is_forwarded_and_recorded_as_matroska(stage: Stage) -> None:
    """An H.264 show: viewers decode it in order, stats say H264, the recording is .mkv."""
    publisher = await stage.live_publisher(codec="H264", audio=False)
    viewer = await stage.viewer()
    indices = await viewer.frame_indices(20)
    assert indices == sorted(indices)
    assert (await stage.stats())["publisher"]["codec"] == "H264"
    await until_recording(stage.publishing)
    await viewer.frame_indices(30)  # ~1 s more, recorded too
    await stage.watching.end_show(1)
    ready = await stage.events.wait("recording_ready")
    assert ready.data["path"].endswith("recording.mkv")
    with av.open(ready.data["path"]) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 15
    await close(viewer, publisher)


async def test_a_viewer_without_the_publishers_codec_gets_415(stage: Stage) -> None:
    """A VP8-only viewer of an H.264 show is refused with 415."""
    publisher = await stage.live_publisher(codec="H264", audio=False)
    viewer = Viewer(video_codecs=["VP8"])
    with pytest.raises(MediaError) as err:
        await viewer.start(stage.watching)
    assert err.value.status == 415
    assert (await stage.stats())["viewers"] == 0
    await close(viewer, publisher)


async def test_replace_starts_a_new_publisher_and_recording_segment(stage: Stage) -> None:
    """publish(replace=True): the new publisher's frames reach new viewers; segment 2 records."""
    first = await stage.live_publisher()
    early = await stage.viewer()
    await early.frame_indices(10)  # what early viewers see next is per mode
    await until_recording(stage.publishing)  # segment 1 has begun
    second = Publisher()
    second.video.count = 10_000  # tell the two sources apart
    await second.start(stage.publishing, replace=True)
    await stage.events.wait("publisher_connected", count=2)
    viewer = await stage.viewer()
    assert (await viewer.frame_indices(5))[0] >= 10_000
    assert (await stage.events.wait("recording_ready")).data["segment"] == 1
    await until_recording(stage.publishing)  # the new publisher's: segment 2 has begun
    await stage.watching.end_show(1)
    ready = await stage.events.wait("recording_ready", count=2, limit=2 * TIMEOUT)
    assert ready.data["segment"] == 2 and ready.data["path"].endswith("recording-2.webm")
    await close(early, viewer, first, second)


async def _status(call: Any) -> int:
    with pytest.raises(MediaError) as err:
        await call
    assert err.value.detail
    status: int = err.value.status
    return status


@pytest.mark.parametrize(
    ("sdp", "status"),
    [("", 400), ("hello", 400), ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", 400)],
    ids=["empty", "not-sdp", "no-media"],
)
async def test_malformed_publish_offers_get_400(stage: Stage, sdp: str, status: int) -> None:
    """Empty, non-SDP and media-less publish offers are refused with 400."""
    assert await _status(stage.publishing.publish(1, sdp)) == status


async def test_an_offer_without_video_gets_422(stage: Stage) -> None:
    """An audio-only publish offer is refused with 422."""
    audio_only = RTCPeerConnection()
    audio_only.addTransceiver(AudioStreamTrack(), direction="sendonly")
    assert await _status(stage.publishing.publish(1, await offer(audio_only))) == 422
    await audio_only.close()


async def test_watching_before_anyone_publishes_gets_409(stage: Stage) -> None:
    """A viewer of a show that is not live is refused with 409."""
    viewer = Viewer()
    assert await _status(stage.watching.watch(1, await offer(viewer.pc))) == 409
    await viewer.pc.close()


def _open_fds(media_dir: Path) -> int:
    """Open file descriptors but the show's recording files (which open when media arrives)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own descriptor
        count += not target.startswith(str(media_dir))
    return count


async def test_failed_offers_leak_nothing(stage: Stage) -> None:
    """100 failed viewer offers leave no file descriptor, task, thread or viewer count behind."""
    publisher = await stage.live_publisher()
    watching = await stage.viewer()
    await watching.frame_indices(10)
    # every connection of the show is up, the recording's too (janus: liveshop's own subscriber,
    # which may connect after the viewer on a loaded machine and then starts its tasks)
    await until_recording(stage.publishing)
    h264_only = Viewer(video_codecs=["H264"])  # fails after the offer was understood
    h264_offer = await offer(h264_only.pc)
    await h264_only.pc.close()
    no_fingerprint = "\r\n".join(
        line for line in h264_offer.split("\r\n") if not line.startswith("a=fingerprint")
    )
    bad = ["", "junk", "v=0\r\n", h264_offer, no_fingerprint]

    async def fail_all(rounds: int) -> set[int]:
        statuses = set()
        for i in range(rounds):
            with pytest.raises(MediaError) as err:
                await stage.watching.watch(1, bad[i % len(bad)])
            statuses.add(err.value.status)
        return statuses

    await fail_all(len(bad))  # warm-up: connection pools to every instance are open
    gc.collect()
    fds, tasks = _open_fds(stage.media_dir), set(asyncio.all_tasks())
    threads = threading.active_count()
    assert await fail_all(100) == {400, 415}
    gc.collect()
    await asyncio.sleep(0)  # let closed transports run their callbacks
    assert _open_fds(stage.media_dir) <= fds
    # tasks the live show starts meanwhile (decoded frames handed over from a decoder thread)
    # end by themselves; a leaked one never does
    new = set(asyncio.all_tasks()) - tasks
    await until(lambda: all(t.done() for t in new), timeout=5, message=f"tasks left running: {new}")
    assert threading.active_count() <= threads
    assert (await stage.stats())["viewers"] == 1
    await close(watching, publisher)
