"""Build the media backend named by ``LIVESHOP_MEDIA_MODE``."""

from __future__ import annotations

from collections.abc import Sequence
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
    janus_urls: Sequence[str] = (),
    janus_api_secret: str = "",
    janus_admin_secret: str = "",
    redis_url: str = "",
    redis_prefix: str = "liveshop:",
    janus_admin_urls: Sequence[str] = (),
    janus_admin_api_secret: str = "",
    media_addresses: Sequence[str] = (),
) -> MediaBackend:
    """Return an unstarted backend for ``mode`` (``sfu``, ``p2p`` or ``janus``); ValueError
    otherwise (also for ``janus`` without URLs). With ``redis_url`` the ``janus`` mode keeps its
    placement in Redis (under ``{redis_prefix}janus:``), so several liveshop processes agree.
    ``media_addresses`` (``sfu``, ``janus``): the only host addresses this process's aiortc peers
    offer in ICE (process-wide, see ``aiortc_internals.restrict_host_addresses``)."""
    if mode in ("sfu", "janus") and media_addresses:
        from .aiortc_internals import restrict_host_addresses

        restrict_host_addresses(media_addresses)
    if mode == "sfu":
        from .sfu import SfuMediaBackend

        return SfuMediaBackend(
            media_dir=media_dir, ice_servers=ice_servers, public_ip=public_ip, on_event=on_event
        )
    if mode == "p2p":
        from .p2p import P2PMediaBackend

        return P2PMediaBackend()
    if mode == "janus":
        from .janus.backend import JanusMediaBackend
        from .janus.placement.factory import create_placement

        return JanusMediaBackend(
            janus_urls=list(janus_urls),
            media_dir=media_dir,
            ice_servers=ice_servers,
            on_event=on_event,
            api_secret=janus_api_secret,
            admin_secret=janus_admin_secret,
            placement=create_placement(redis_url, prefix=redis_prefix),
            admin_urls=list(janus_admin_urls),
            admin_api_secret=janus_admin_api_secret,
        )
    raise ValueError(f"unknown media mode {mode!r}; expected 'sfu', 'p2p' or 'janus'")
