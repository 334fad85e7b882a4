"""Framing: JSON encoding, broker envelopes (routing header + frame) and batch frames.

An *envelope* is what travels through the broker: a one-line JSON header for the hub (routing,
coalescing) and the frame every socket gets, serialized once whatever the number of viewers.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BATCH_EVENTS = 500
MAX_BATCH_CHARS = 64 * 1024


def encode(event: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON. Lone surrogates are escaped, never raised on."""
    try:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(event, separators=(",", ":")).encode("ascii")


def frame(event: dict[str, Any]) -> str:
    """A single event as the text frame a socket gets (for direct replies)."""
    return encode(event).decode("utf-8")


def envelope(event: dict[str, Any] | None, **meta: Any) -> bytes:
    """Header line (routing for the hub) + newline + the frame. ``event`` None: control only.

    Meta keys: ``t`` event type; ``k`` coalescing key (only the latest per key is sent when busy);
    ``v`` the show revision a live figure is true at (a hub keeps the highest, see
    :mod:`liveshop.hub.figures`); ``show`` the show of a global event; ``to`` a peer id; ``role``
    deliver only to that role; ``whep`` only to the socket watching through that WHEP session;
    ``ctl`` a control verb for hubs; ``chat`` a chat message id (for duplicate-free resume).
    """
    head = json.dumps(meta, separators=(",", ":")).encode()
    return head + b"\n" + (encode(event) if event is not None else b"")


def open_envelope(data: bytes) -> tuple[dict[str, Any], str]:
    """Split an envelope into (meta, frame text). Raises ``ValueError`` for a malformed one."""
    head, _, body = data.partition(b"\n")
    meta = json.loads(head)
    if not isinstance(meta, dict):
        raise ValueError("bad envelope")
    return meta, body.decode("utf-8")


BATCH_PREFIX = '{"type":"batch","events":['
BATCH_SUFFIX = "]}"


def batch(frames: list[str]) -> str:
    """Several frames as one: ``{"type":"batch","events":[...]}``, in order."""
    return BATCH_PREFIX + ",".join(frames) + BATCH_SUFFIX


def merge(frames: list[str]) -> str:
    """One batch frame from frames that may themselves be batches (flattened, order kept)."""
    parts = [
        f[len(BATCH_PREFIX) : -len(BATCH_SUFFIX)] if f.startswith(BATCH_PREFIX) else f
        for f in frames
    ]
    return BATCH_PREFIX + ",".join(p for p in parts if p) + BATCH_SUFFIX
