"""aiortc peers and event collection shared by the media tests (any MediaBackend)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError

from liveshop.media import create_media_backend
from liveshop.media.base import MediaBackend, MediaEvent
from liveshop.media.netns import Namespace
from liveshop.media.sfu import SfuMediaBackend
from liveshop.media.synthetic import IndexedVideoTrack, answer, offer, read_index
from liveshop.media.synthetic_simulcast import SimulcastPublisher
from tests.medianet import media_addresses, require_netns
from tests.waiting import until

TIMEOUT = 10.0


class Events:
    """Collects backend events; tests wait on them instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[MediaEvent] = []
        self.changed = asyncio.Condition()

    async def __call__(self, event: MediaEvent) -> None:
        async with self.changed:
            self.items.append(event)
            self.changed.notify_all()

    async def wait(self, kind: str, count: int = 1, limit: float = TIMEOUT) -> MediaEvent:
        async def matching() -> MediaEvent:
            async with self.changed:
                await self.changed.wait_for(
                    lambda: len([e for e in self.items if e.kind == kind]) >= count
                )
                return [e for e in self.items if e.kind == kind][count - 1]

        return await asyncio.wait_for(matching(), limit)


async def until_recording(backend: MediaBackend, livestream_id: int = 1) -> None:
    """Wait until ``backend`` measures the publisher's video, so its recording has begun.

    In janus mode the recording is liveshop's own subscriber, which connects after the
    publisher does and, on a loaded machine, after a test's first viewer has frames.
    """

    async def measured() -> bool:
        await backend.refresh(livestream_id)
        publisher = backend.stats(livestream_id)["publisher"]
        return bool(publisher and publisher.get("width"))

    await until(measured, timeout=TIMEOUT, message="the publisher's recording to begin")


class Publisher:
    def __init__(self, codec: str = "VP8", audio: bool = True) -> None:
        self.pc = RTCPeerConnection()
        self.video = IndexedVideoTrack()
        transceiver = self.pc.addTransceiver(self.video, direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in caps if c.name == codec])
        if audio:
            self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")

    async def start(self, backend: MediaBackend, livestream_id: int = 1, **kw: Any) -> str:
        session = await backend.publish(livestream_id, await offer(self.pc), **kw)
        await answer(self.pc, session.answer_sdp)
        return session.session_id


class Viewer:
    def __init__(self, video_codecs: list[str] | None = None) -> None:
        self.pc = RTCPeerConnection()
        self.tracks: dict[str, Any] = {}
        self.session_id = ""
        self.pc.on("track", lambda track: self.tracks.__setitem__(track.kind, track))
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        if video_codecs:
            caps = RTCRtpSender.getCapabilities("video").codecs
            transceiver.setCodecPreferences([c for c in caps if c.name in video_codecs])
        self.pc.addTransceiver("audio", direction="recvonly")

    async def start(self, backend: MediaBackend, livestream_id: int = 1) -> str:
        session = await backend.watch(livestream_id, await offer(self.pc))
        await answer(self.pc, session.answer_sdp)
        self.session_id = session.session_id
        return session.session_id

    async def frame_indices(self, count: int, limit: float = TIMEOUT) -> list[int]:
        track = self.tracks["video"]
        return [read_index(await asyncio.wait_for(track.recv(), limit)) for _ in range(count)]

    async def until_ended(self, limit: float = TIMEOUT) -> None:
        """Return once the video track has ended (raises TimeoutError otherwise)."""

        async def drain() -> None:
            track = self.tracks["video"]
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return

        await asyncio.wait_for(drain(), limit)


@contextlib.asynccontextmanager
async def simulcast_stage(
    media_dir: Path,
) -> AsyncIterator[tuple[SfuMediaBackend, Namespace, SimulcastPublisher]]:
    """An ``sfu`` backend whose peers use a fresh namespace's near side, with the synthetic
    simulcast publisher connected (livestream 1); viewers go inside the namespace."""
    require_netns()
    with Namespace() as ns, media_addresses(ns.near):
        events = Events()
        backend = create_media_backend(
            "sfu", media_dir=media_dir, ice_servers=[], public_ip="", on_event=events
        )
        assert isinstance(backend, SfuMediaBackend)
        await backend.start()
        publisher = SimulcastPublisher()
        try:
            await publisher.start(backend)
            await events.wait("publisher_connected", limit=20)
            yield backend, ns, publisher
        finally:
            await publisher.close()
            await backend.close()
