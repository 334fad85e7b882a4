"""The placeholder track behind a sender whose packets this process sends itself.

aiortc runs an encoder loop per :class:`~aiortc.RTCRtpSender` that pulls frames from its track;
an :class:`IdleTrack` never yields one, so that loop waits forever while the packets go out
beside it (the SFU's viewer senders, the synthetic simulcast publisher's layers). Stopping the
track ends the sender's loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class IdleTrack(MediaStreamTrack):
    """The track behind a sender whose packets are sent beside it (each SFU viewer's): aiortc's
    encoder loop waits on it forever. Stopping it ends the sender's loop."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.Event()

    async def recv(self) -> Any:
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        self._ended.set()
        super().stop()
