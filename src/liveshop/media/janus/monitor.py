"""The monitor: liveshop's own subscriber to a publisher on its origin, for stats and recording.

An aiortc peer answers VideoRoom's subscriber offer with the publisher's codec only (no RTX) and
its receivers are tapped as in the ``sfu`` mode: packets are counted
(:class:`~liveshop.media.stats.StreamStats`) and fed to the same
:class:`~liveshop.media.recording.Recorder`, nothing is decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.rtp import RtpPacket

from .. import aiortc_internals as internals
from ..negotiation import negotiated_streams
from ..recording import Recorder, RecordingResult
from ..rtputil import keyframe_start
from ..stats import StreamStats
from . import videoroom
from .client import JanusError, JanusSession
from .instances import Instance

logger = logging.getLogger(__name__)

RecorderFactory = Callable[[bool], Awaitable[Recorder | None]]


class MonitorTap:
    """Counts one monitored stream (bitrate, fps, size, loss) and feeds the recorder."""

    def __init__(self, kind: str, codec: str, pt: int) -> None:
        self.kind = kind
        self.codec = codec
        self.pt = pt
        self.recorder: Recorder | None = None
        self.stats = StreamStats(codec)

    async def on_rtp(self, packet: RtpPacket) -> None:
        """Count a packet of the stream's payload type and queue it for the recorder."""
        if packet.payload_type != self.pt or not packet.payload:
            return
        payload = packet.payload
        seq = packet.sequence_number
        stats = self.stats
        stats.count(seq, len(payload), packet.marker)
        # every keyframe: a simulcast publisher's first one may be of a lower substream (Janus
        # starts a subscriber on whichever comes first, then moves to the top one)
        if self.kind == "video" and keyframe_start(self.codec, payload):
            stats.sample_size(payload)
        if self.recorder is not None:
            self.recorder.put(self.kind, seq, packet.timestamp, bool(packet.marker), payload)


@dataclass(eq=False)
class Monitor:
    """One monitor subscriber (its handle on the origin and its aiortc peer)."""

    instance: Instance
    session: JanusSession  # the instance's session when the monitor was attached
    handle: int
    pc: RTCPeerConnection
    taps: dict[str, MonitorTap] = field(default_factory=dict)
    recorder: Recorder | None = None
    closed: bool = False

    @classmethod
    async def attach(cls, inst: Instance, ice_servers: list[RTCIceServer]) -> Monitor:
        """A handle on ``inst`` for the monitor; raises :class:`JanusError` when down."""
        session = inst.live_session()
        handle = await session.attach()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))
        inst.handles[handle] = lambda event: None
        return cls(instance=inst, session=session, handle=handle, pc=pc)

    async def subscribe(self, room: int, feed: int, codec: str, recorder: RecorderFactory) -> None:
        """Join ``feed`` as a subscriber, answer with aiortc, tap the receivers and start.

        ``recorder(has_audio)`` is called once the streams are known (when there is video) and
        may return None (no recording). Failures are logged, never raised: a show goes on
        without stats or recording.
        """
        session, handle, pc = self.session, self.handle, self.pc
        try:
            _, jsep = await session.message(handle, videoroom.join_subscriber(room, feed))
            if jsep is None:
                raise JanusError(0, "Janus sent no subscriber offer")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type="offer"))
            for transceiver in pc.getTransceivers():
                kind = transceiver.kind
                caps = RTCRtpSender.getCapabilities(kind).codecs
                wanted = codec if kind == "video" else "opus"
                transceiver.setCodecPreferences([c for c in caps if c.name == wanted])
            await pc.setLocalDescription(await pc.createAnswer())
            negotiated = negotiated_streams(pc.localDescription.sdp)
            for transceiver in pc.getTransceivers():
                neg = negotiated.get(transceiver.kind)
                if neg is None:
                    continue
                tap = MonitorTap(neg.kind, neg.codec, neg.pt)
                self.taps[neg.kind] = tap
                receiver: RTCRtpReceiver = transceiver.receiver
                internals.tap_receiver(receiver, tap.on_rtp, lambda: None)
            if "video" in self.taps:
                self.recorder = await recorder("audio" in self.taps)
                for tap in self.taps.values():
                    tap.recorder = self.recorder
            await session.message(
                handle, videoroom.start(), {"type": "answer", "sdp": pc.localDescription.sdp}
            )
        except Exception as exc:
            logger.warning("show %s: monitor failed: %r", room, exc)

    async def detach(self) -> bool:
        """Give the handle back to Janus (its subscriber slot too); False when already closed."""
        if self.closed:
            return False
        self.closed = True
        inst = self.instance
        inst.handles.pop(self.handle, None)
        if inst.up and inst.session is not None:
            inst.subscribers = max(0, inst.subscribers - 1)
            with contextlib.suppress(JanusError):
                await inst.session.detach(self.handle)
        return True

    async def finish(self) -> RecordingResult | None:
        """After :meth:`detach`: close the peer and finish the recording (None: no recorder)."""
        for tap in self.taps.values():
            tap.recorder = None
        await self.pc.close()
        if self.recorder is None:
            return None
        return await asyncio.to_thread(self.recorder.join)
