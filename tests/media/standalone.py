"""Helpers for the tests of a :class:`~liveshop.media.source.Source` or a
:class:`~liveshop.media.sink.Sink` on its own (no network): a peer connection to take senders
and receivers from, a sink whose outgoing packets land in a list, and VP8 payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from liveshop.media.negotiation import Negotiated
from liveshop.media.sink import Sink

VP8_KEY = bytes([0x90, 0x80, 0x05, 0x00, 0x00, 0x00])  # descriptor S=1, picture id; P bit clear
VP8_DELTA = bytes([0x80, 0x80, 0x06, 0x01, 0x00, 0x00])  # not a frame start of a keyframe


@pytest.fixture
async def pc() -> AsyncIterator[RTCPeerConnection]:
    """A peer connection to take senders and receivers from (never connected)."""
    made = RTCPeerConnection()
    yield made
    await made.close()


def capturing_sink(pc: RTCPeerConnection, neg: Negotiated, sent: list[bytes]) -> Sink:
    """A video sink whose outgoing packets land in ``sent``."""
    sender = pc.addTransceiver("video", direction="sendonly").sender
    made = Sink("video", sender, neg, lambda: None)

    async def send(data: bytes) -> None:
        sent.append(data)

    made.send = send
    return made
