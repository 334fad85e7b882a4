"""Build the media backend named by ``LIVESHOP_MEDIA_MODE``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import EventCallback, MediaBackend


def create_media_backend(
    mode: str,
    *,
    media_dir: Path,
    ice_servers: list[dict[str, Any]],
    public_ip: str,
    on_event: EventCallback,
) -> MediaBackend:
    """Return an unstarted backend for ``mode`` (``sfu`` or ``p2p``); ValueError otherwise."""
    if mode == "sfu":
        from .sfu import SfuMediaBackend

        return SfuMediaBackend(
            media_dir=media_dir, ice_servers=ice_servers, public_ip=public_ip, on_event=on_event
        )
    if mode == "p2p":
        from .p2p import P2PMediaBackend

        return P2PMediaBackend()
    raise ValueError(f"unknown media mode {mode!r}; expected 'sfu' or 'p2p'")
