"""What only the SFU backend does, with real aiortc peers on loopback (no HTTP).

What every backend does is in test_backend_contract.py."""

from __future__ import annotations

import gc
import itertools
import os
import threading
import time
from pathlib import Path
from typing import Any

import aiortc
import pytest
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

from liveshop.media import aiortc_internals as internals
from liveshop.media.sfu import SfuMediaBackend
from tests.media.peers import Events, Publisher, Viewer
from tests.waiting import until


async def live_publisher(sfu: SfuMediaBackend, events: Events, **kw: Any) -> Publisher:
    publisher = Publisher(**kw)
    await publisher.start(sfu)
    await events.wait("publisher_connected")
    return publisher


def test_aiortc_internals_unchanged() -> None:
    """Fails loudly when aiortc changes under the forwarder (see aiortc_internals.py)."""
    assert aiortc.__version__ == internals.AIORTC_VERSION == "1.16.0"
    assert internals.check_internals() == []


async def test_the_server_never_decodes_what_it_forwards(
    backend: SfuMediaBackend, events: Events
) -> None:
    """While a viewer decodes the show, the server's jitter buffers are the no-op sink."""
    publisher = await live_publisher(backend, events)
    viewer = Viewer()
    await viewer.start(backend)
    await viewer.frame_indices(30)
    room = backend.rooms[1]
    assert room.publisher is not None
    for source in room.publisher.sources.values():
        assert type(source.receiver._RTCRtpReceiver__jitter_buffer).__name__ == "_NoFrames"
    await viewer.pc.close()
    await publisher.pc.close()


async def test_keyframe_requests_are_rate_limited(
    backend: SfuMediaBackend, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Viewers' keyframe requests reach the publisher at most once a second; those made before
    a keyframe arrived are answered by it, later ones by a PLI at the end of the second."""
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
    video.main.last_pli = -10.0
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=sink.rewriter.ssrc)
    for _ in range(10):
        assert await sink.on_rtcp(pli)
    await until(lambda: sent and video.main.key_at > sent[0], timeout=5, message="a keyframe")
    for _ in range(10):
        assert await sink.on_rtcp(pli)
    await until(lambda: len(sent) >= 2, timeout=5)  # the 10 later ones coalesce, 1 s later
    await viewer.frame_indices(10)
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.95
    await viewer.pc.close()
    await publisher.pc.close()


async def test_replace_keeps_viewers_watching(backend: SfuMediaBackend, events: Events) -> None:
    """A replacing publisher's frames reach the viewers of the one it replaced."""
    first = await live_publisher(backend, events)
    viewer = Viewer()
    await viewer.start(backend)
    await viewer.frame_indices(10)
    second = Publisher()
    second.video.count = 10_000  # tell the two sources apart
    await second.start(backend, replace=True)
    await events.wait("publisher_connected", count=2)
    indices = await viewer.frame_indices(60)
    assert indices[-1] >= 10_000, "viewer did not switch to the new publisher"
    for pc in (viewer.pc, first.pc, second.pc):
        await pc.close()


async def test_replace_continues_each_viewers_rtp_numbering(
    backend: SfuMediaBackend, events: Events
) -> None:
    """Across a replace a viewer's video keeps its SSRC, consecutive sequence numbers, rising timestamps."""
    first = await live_publisher(backend, events)
    viewer = Viewer()
    got: list[tuple[int, int, int]] = []

    async def on_rtp(packet: Any) -> None:
        got.append((packet.ssrc, packet.sequence_number, packet.timestamp))

    video = next(t.receiver for t in viewer.pc.getTransceivers() if t.kind == "video")
    internals.tap_receiver(video, on_rtp, lambda: None)
    await viewer.start(backend)
    await until(lambda: len(got) >= 30, message="the first publisher's packets")
    old = backend.rooms[1].publisher
    assert old is not None
    second = Publisher()
    await second.start(backend, replace=True)
    await until(lambda: old.closed, message="the replaced publisher closed")
    switched = len(got)  # from here on, packets can only come from the replacement
    await until(lambda: len(got) >= switched + 60, timeout=15, message="the replacement's packets")
    assert {ssrc for ssrc, _, _ in got} == {got[0][0]}
    for (_, seq_a, ts_a), (_, seq_b, ts_b) in itertools.pairwise(got):
        assert 1 <= (seq_b - seq_a) & 0xFFFF <= 3, (seq_a, seq_b)
        assert (ts_b - ts_a) & 0xFFFFFFFF < 90_000 * 20, (ts_a, ts_b)
    for pc in (viewer.pc, first.pc, second.pc):
        await pc.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def own_threads() -> int:
    """Live threads, without the event loop's default executor's workers (``asyncio_N``):
    ``asyncio.to_thread`` starts them on first use and keeps them for the next call."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith("asyncio_"))


async def test_close_frees_everything(tmp_path: Path, events: Events) -> None:
    """close() frees every peer connection, task and port."""
    gc.collect()
    fds, threads = open_fds(), own_threads()
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
    assert open_fds() <= fds
    assert own_threads() <= threads, threading.enumerate()


async def test_a_restarted_server_appends_a_segment(
    tmp_path: Path, backend: SfuMediaBackend, events: Events
) -> None:
    """A server restarted mid-show records the studio's return as the next segment: the segment
    kept before the restart is not overwritten."""
    kept = tmp_path / "livestreams" / "1" / "recording.webm"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"segment 1, recorded before the restart")
    publisher = await live_publisher(backend, events)  # a fresh backend: no memory of the show
    viewer = Viewer()
    await viewer.start(backend)
    await viewer.frame_indices(15)
    await backend.end_show(1)
    ready = await events.wait("recording_ready")
    assert ready.data["segment"] == 2 and ready.data["path"].endswith("recording-2.webm")
    assert kept.read_bytes() == b"segment 1, recorded before the restart"
    for pc in (viewer.pc, publisher.pc):
        await pc.close()
