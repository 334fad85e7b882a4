"""The SFU backend with real aiortc peers over the machine's own addresses (no HTTP)."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiortc
import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket
from PIL import Image

from liveshop.media import aiortc_internals as internals
from liveshop.media import create_media_backend
from liveshop.media.base import MediaError
from liveshop.media.p2p import P2PMediaBackend
from liveshop.media.sfu import SfuMediaBackend
from liveshop.media.synthetic import offer
from tests.media.peers import TIMEOUT, Events, Publisher, Viewer


@pytest.fixture
async def events() -> Events:
    return Events()


@pytest.fixture
async def backend(tmp_path: Path, events: Events) -> AsyncIterator[SfuMediaBackend]:
    sfu = create_media_backend(
        "sfu", media_dir=tmp_path, ice_servers=[], public_ip="", on_event=events
    )
    assert isinstance(sfu, SfuMediaBackend)
    await sfu.start()
    yield sfu
    await sfu.close()


async def live_publisher(sfu: SfuMediaBackend, events: Events, **kw: Any) -> Publisher:
    publisher = Publisher(**kw)
    await publisher.start(sfu)
    await events.wait("publisher_connected")
    return publisher


def test_aiortc_internals_unchanged() -> None:
    """Fails loudly when aiortc changes under the forwarder (see aiortc_internals.py)."""
    assert aiortc.__version__ == internals.AIORTC_VERSION == "1.16.0"
    assert internals.check_internals() == []


async def test_two_viewers_get_frames_in_order_without_server_decoding(
    backend: SfuMediaBackend, events: Events
) -> None:
    """Two viewers decode the publisher's frames in order; the server never decodes."""
    publisher = await live_publisher(backend, events)
    viewers = [Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(backend)
    for viewer in viewers:
        indices = await viewer.frame_indices(30)
        assert indices == sorted(indices) and len(set(indices)) == 30, indices
        assert indices[-1] - indices[0] < 40, "frames were lost"
        audio = await asyncio.wait_for(viewer.tracks["audio"].recv(), TIMEOUT)
        assert audio.sample_rate == 48000
    # the server never assembled or decoded a frame: its jitter buffers are the no-op sink
    room = backend.rooms[1]
    assert room.publisher is not None
    for source in room.publisher.sources.values():
        assert type(source.receiver._RTCRtpReceiver__jitter_buffer).__name__ == "_NoFrames"
    stats = backend.stats(1)
    assert stats["viewers"] == 2
    assert stats["publisher"]["codec"] == "VP8"
    assert (stats["publisher"]["width"], stats["publisher"]["height"]) == (320, 240)
    for viewer in viewers:
        await viewer.pc.close()
    await publisher.pc.close()


async def test_late_viewer_sees_video_within_two_seconds(
    backend: SfuMediaBackend, events: Events
) -> None:
    """A viewer joining mid-show gets a keyframe and video within 2 s."""
    publisher = await live_publisher(backend, events)
    first = Viewer()
    await first.start(backend)
    await first.frame_indices(45)  # ~1.5 s of stream: the join keyframe is long gone
    late = Viewer()
    started = time.monotonic()
    await late.start(backend)
    indices = await late.frame_indices(3)
    assert time.monotonic() - started < 2.0
    assert indices == sorted(indices) and indices[0] >= 45
    await late.pc.close()
    await first.pc.close()
    await publisher.pc.close()


async def test_keyframe_requests_are_rate_limited(
    backend: SfuMediaBackend, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Viewers' keyframe requests reach the publisher at most once a second."""
    publisher = await live_publisher(backend, events)
    viewer = Viewer()
    await viewer.start(backend)
    await viewer.frame_indices(2)
    sent: list[float] = []
    real = internals.send_pli

    async def counting(receiver: Any, ssrc: int) -> None:
        sent.append(time.monotonic())
        await real(receiver, ssrc)

    monkeypatch.setattr(internals, "send_pli", counting)
    room = backend.rooms[1]
    sink = next(iter(room.viewers.values())).sinks["video"]
    video = room.publisher.sources["video"]  # type: ignore[union-attr]
    video.last_pli = -10.0
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=sink.rewriter.ssrc)
    for _ in range(20):
        assert await sink.on_rtcp(pli)
    await viewer.frame_indices(40)  # > 1 s later
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.95
    await viewer.pc.close()
    await publisher.pc.close()


async def test_publisher_leaving_ends_viewers_and_recording(
    backend: SfuMediaBackend, events: Events, tmp_path: Path
) -> None:
    """The publisher leaving ends viewer tracks and finishes a decodable recording and thumbnail."""
    publisher = await live_publisher(backend, events)
    viewer = Viewer()
    await viewer.start(backend)
    await viewer.frame_indices(120)  # ~4 s, past the thumbnail point
    published = publisher.video.count / 30
    await publisher.pc.close()
    left = await events.wait("publisher_left")
    assert left.livestream_id == 1
    with pytest.raises(MediaStreamError):
        while True:
            await asyncio.wait_for(viewer.tracks["video"].recv(), TIMEOUT)
    assert not backend.is_live(1)
    ready = await events.wait("recording_ready")
    path = Path(ready.data["path"])
    assert path == tmp_path / "livestreams" / "1" / "recording.webm"
    with av.open(str(path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        last = 0.0
        for frame in container.decode(video=0):
            last = float(frame.time or 0.0)
    assert abs(last - published) <= 1.0, (last, published)
    thumb = Path(ready.data["thumbnail"])
    with Image.open(thumb) as image:
        assert image.format == "JPEG" and image.size == (320, 240)
    await viewer.pc.close()


async def test_h264_is_forwarded_and_recorded_as_mkv(
    backend: SfuMediaBackend, events: Events
) -> None:
    """H.264 is forwarded as is and recorded to Matroska; a VP8-only viewer gets 415."""
    publisher = await live_publisher(backend, events, codec="H264", audio=False)
    viewer = Viewer()
    await viewer.start(backend)
    indices = await viewer.frame_indices(20)
    assert indices == sorted(indices)
    assert backend.stats(1)["publisher"]["codec"] == "H264"
    # a viewer that cannot take H.264 is refused, and nothing is left open
    with pytest.raises(MediaError) as err:
        await Viewer(video_codecs=["VP8"]).start(backend)
    assert err.value.status == 415
    await backend.end_show(1)
    ready = await events.wait("recording_ready")
    assert ready.data["path"].endswith("recording.mkv")
    with av.open(ready.data["path"]) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 15
    await viewer.pc.close()
    await publisher.pc.close()


async def test_replace_keeps_viewers_and_starts_a_new_segment(
    backend: SfuMediaBackend, events: Events
) -> None:
    """A replacing publisher keeps viewers watching and starts a new recording segment."""
    first = await live_publisher(backend, events)
    viewer = Viewer()
    await viewer.start(backend)
    await viewer.frame_indices(10)
    with pytest.raises(MediaError) as err:
        await Publisher().start(backend)
    assert err.value.status == 409
    second = Publisher()
    second.video.count = 10_000  # tell the two sources apart
    await second.start(backend, replace=True)
    await events.wait("publisher_connected", count=2)
    indices = await viewer.frame_indices(60)
    assert indices[-1] >= 10_000, "viewer did not switch to the new publisher"
    ready = await events.wait("recording_ready")
    assert ready.data["segment"] == 1
    await backend.end_show(1)
    ready = await events.wait("recording_ready", count=2)
    assert ready.data["path"].endswith("recording-2.webm")
    for pc in (viewer.pc, first.pc, second.pc):
        await pc.close()


async def test_offer_errors(backend: SfuMediaBackend, events: Events) -> None:
    """Malformed, empty, video-less and duplicate offers get clear MediaErrors."""

    async def status(coro: Any) -> int:
        with pytest.raises(MediaError) as err:
            await coro
        assert err.value.detail
        return err.value.status

    assert await status(backend.publish(1, "")) == 400
    assert await status(backend.publish(1, "hello")) == 400
    assert await status(backend.publish(1, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n")) == 400
    audio_only = RTCPeerConnection()
    audio_only.addTransceiver(AudioStreamTrack(), direction="sendonly")
    assert await status(backend.publish(1, await offer(audio_only))) == 422
    await audio_only.close()
    viewer = Viewer()
    assert await status(backend.watch(1, await offer(viewer.pc))) == 409
    await viewer.pc.close()
    assert await backend.end_session(1, "nope") is False

    p2p = P2PMediaBackend()
    err = await status(p2p.publish(1, "v=0"))
    assert err in (400, 409, 422)
    with pytest.raises(MediaError, match="p2p"):
        await p2p.watch(1, "v=0")
    with pytest.raises(ValueError):
        create_media_backend(
            "nope", media_dir=Path("."), ice_servers=[], public_ip="", on_event=events
        )


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_failed_sessions_leak_nothing(backend: SfuMediaBackend, events: Events) -> None:
    """200 failed sessions leave no peer connections, tasks, threads or sockets."""
    publisher = await live_publisher(backend, events)
    h264_only = Viewer(video_codecs=["H264"])  # fails after a peer connection was created
    h264_offer = await offer(h264_only.pc)
    await h264_only.pc.close()
    no_fingerprint = "\r\n".join(
        line for line in h264_offer.split("\r\n") if not line.startswith("a=fingerprint")
    )
    gc.collect()
    fds, tasks, threads = _open_fds(), len(asyncio.all_tasks()), threading.active_count()
    bad = ["", "junk", "v=0\r\n", h264_offer, no_fingerprint]
    statuses = set()
    for i in range(200):
        with pytest.raises(MediaError) as err:
            await backend.watch(1, bad[i % len(bad)])
        statuses.add(err.value.status)
    assert statuses == {400, 415}
    gc.collect()
    await asyncio.sleep(0)  # let closed transports run their callbacks
    assert _open_fds() <= fds
    assert len(asyncio.all_tasks()) <= tasks
    assert threading.active_count() <= threads
    assert backend.stats(1)["viewers"] == 0
    await publisher.pc.close()


async def test_close_frees_everything(tmp_path: Path, events: Events) -> None:
    """close() frees every peer connection, task and port."""
    gc.collect()
    fds, threads = _open_fds(), threading.active_count()
    sfu = SfuMediaBackend(media_dir=tmp_path, ice_servers=[], public_ip="", on_event=events)
    await sfu.start()
    publisher = await live_publisher(sfu, events)
    viewer = Viewer()
    await viewer.start(sfu)
    await viewer.frame_indices(5)
    await sfu.close()
    await viewer.pc.close()
    await publisher.pc.close()
    await events.wait("recording_ready")
    gc.collect()
    assert sfu.rooms == {}
    assert _open_fds() <= fds
    assert threading.active_count() <= threads
