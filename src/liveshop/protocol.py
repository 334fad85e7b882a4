"""The catalogue of every WebSocket message, both directions, encoded and decoded here only.

Server → client events are built by the functions below (each returns the encoded frame, so a
broadcast is serialized once). Client → server messages are validated by :func:`decode_client`.
See ``docs/protocol.md`` for each message with an example.
"""

from __future__ import annotations

import json
from typing import Any

# --- server → client ------------------------------------------------------------------------

SERVER_EVENTS = (
    "snapshot",
    "chat_message",
    "chat_deleted",
    "likes_update",
    "like_state",
    "viewer_count",
    "pinned_products_update",
    "stream_started",
    "stream_ended",
    "stream_update",
    "slow_mode",
    "banned",
    "webrtc_broadcast_start",
    "webrtc_offer",
    "webrtc_answer",
    "webrtc_ice_candidate",
    "webrtc_viewer_joined",
    "webrtc_viewer_left",
    "pong",
    "error",
    "batch",
)


def encode(event: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON. Lone surrogates are escaped, never raised on."""
    try:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(event, separators=(",", ":")).encode("ascii")


def stream_started(livestream: dict[str, Any]) -> bytes:
    return encode({"type": "stream_started", "livestream": livestream})


def stream_ended(livestream_id: int, video_url: str | None) -> bytes:
    event: dict[str, Any] = {"type": "stream_ended", "livestreamId": livestream_id}
    if video_url:
        event["videoUrl"] = video_url
    return encode(event)


def stream_update(livestream: dict[str, Any]) -> bytes:
    return encode({"type": "stream_update", "livestream": livestream})


def pinned_products_update(livestream_id: int, products: list[dict[str, Any]]) -> bytes:
    return encode(
        {
            "type": "pinned_products_update",
            "livestreamId": livestream_id,
            "pinnedProducts": products,
        }
    )
