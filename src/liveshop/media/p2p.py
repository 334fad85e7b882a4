"""Peer-to-peer mode: browsers connect directly, signalling goes over the WebSocket hub.

The server carries no media in this mode, so every WHIP/WHEP call is refused.
"""

from __future__ import annotations

from typing import Any

from .base import MediaBackend, MediaError, MediaSession
from .stats import media_stats

NOT_SUPPORTED = "not supported in p2p mode: media flows browser to browser, signalled over the hub"


class P2PMediaBackend(MediaBackend):
    mode = "p2p"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(
        self, livestream_id: int, offer_sdp: str, *, replace: bool = False
    ) -> MediaSession:
        raise MediaError(409, NOT_SUPPORTED)

    async def watch(self, livestream_id: int, offer_sdp: str) -> MediaSession:
        raise MediaError(409, NOT_SUPPORTED)

    async def end_session(self, livestream_id: int, session_id: str) -> bool:
        return False

    async def end_show(self, livestream_id: int) -> None:
        return None

    def is_live(self, livestream_id: int) -> bool:
        return False

    def stats(self, livestream_id: int) -> dict[str, Any]:
        return media_stats(None, 0, [])
