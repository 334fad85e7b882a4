"""Server → client events: one builder per ``type``.

Builders returning ``bytes`` make broker envelopes (every process's hub routes them); those
returning ``str`` make a frame for one socket (direct replies and room-local sends).
``docs/protocol.md`` documents each message with an example.
"""

from __future__ import annotations

from typing import Any

from liveshop.protocol.client import ErrorCode
from liveshop.protocol.frames import envelope, frame


def error(
    code: ErrorCode, message: str, *, retry_after: float | None = None, ref: str | None = None
) -> str:
    event: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        event["retryAfter"] = round(retry_after, 3)
    if ref is not None:
        event["ref"] = ref
    return frame(event)


def pong() -> str:
    return '{"type":"pong"}'


def snapshot(**fields: Any) -> str:
    return frame({"type": "snapshot", **fields})


def _versioned(event: dict[str, Any], rev: int | None) -> dict[str, Any]:
    """``event`` with ``rev`` (the show revision it is true at) when there is one."""
    if rev is not None:
        event["rev"] = rev
    return event


def _show_meta(kind: str, livestream_id: int, rev: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"t": kind, "show": livestream_id}
    if rev is not None:
        meta["v"] = rev
    return meta


def stream_started(livestream: dict[str, Any], rev: int | None = None) -> bytes:
    event = _versioned({"type": "stream_started", "livestream": livestream}, rev)
    return envelope(event, **_show_meta("stream_started", livestream["id"], rev))


def stream_ended(livestream_id: int, video_url: str | None, rev: int | None = None) -> bytes:
    event: dict[str, Any] = {"type": "stream_ended", "livestreamId": livestream_id}
    if video_url:
        event["videoUrl"] = video_url
    return envelope(_versioned(event, rev), **_show_meta("stream_ended", livestream_id, rev))


def stream_update(livestream: dict[str, Any], rev: int | None = None) -> bytes:
    event = _versioned({"type": "stream_update", "livestream": livestream}, rev)
    return envelope(event, **_show_meta("stream_update", livestream["id"], rev))


def pinned_products_update(
    livestream_id: int, products: list[dict[str, Any]], rev: int | None = None
) -> bytes:
    event = {
        "type": "pinned_products_update",
        "livestreamId": livestream_id,
        "pinnedProducts": products,
    }
    meta: dict[str, Any] = {"t": "pinned_products_update", "k": "pins"}
    if rev is not None:
        meta["v"] = rev
    return envelope(_versioned(event, rev), **meta)


def chat_message(message: dict[str, Any]) -> bytes:
    return envelope({"type": "chat_message", **message}, t="chat_message", chat=message["id"])


def chat_deleted(livestream_id: int, ids: list[int]) -> bytes:
    event = {"type": "chat_deleted", "livestreamId": livestream_id, "messageIds": ids}
    return envelope(event, t="chat_deleted")


def likes_update(livestream_id: int, likes: int, rev: int | None = None) -> bytes:
    event = {"type": "likes_update", "livestreamId": livestream_id, "likes": likes}
    meta: dict[str, Any] = {"t": "likes_update", "k": "likes"}
    if rev is not None:
        meta["v"] = rev
    return envelope(_versioned(event, rev), **meta)


def like_state(livestream_id: int, liked: bool, likes: int, rev: int | None = None) -> str:
    event = {"type": "like_state", "livestreamId": livestream_id, "liked": liked, "likes": likes}
    return frame(_versioned(event, rev))


def viewer_count(livestream_id: int, count: int, peak: int) -> str:
    return frame(
        {"type": "viewer_count", "livestreamId": livestream_id, "count": count, "peak": peak}
    )


def slow_mode(livestream_id: int, seconds: int, rev: int | None = None) -> bytes:
    event = {"type": "slow_mode", "livestreamId": livestream_id, "seconds": seconds}
    meta: dict[str, Any] = {"t": "slow_mode", "k": "slow_mode", "seconds": seconds}
    if rev is not None:
        meta["v"] = rev
    return envelope(_versioned(event, rev), **meta)


def new_shopper_wait(livestream_id: int, seconds: int) -> bytes:
    """Identities must have watched ``seconds`` before they may chat or like (0: off)."""
    event = {"type": "new_shopper_wait", "livestreamId": livestream_id, "seconds": seconds}
    return envelope(event, t="new_shopper_wait", k="new_shopper_wait", seconds=seconds)


def signal(kind: str, sender: str, to: str, payload_key: str, payload: Any) -> bytes:
    """A WebRTC signalling message to one peer; ``from`` is set by the server, never the client."""
    event = {"type": kind, "from": sender, "to": to, payload_key: payload}
    return envelope(event, t=kind, to=to)


def broadcast_start(livestream_id: int, sender: str) -> bytes:
    """The publisher is sending: to shoppers when a seller's browser says so (p2p), to everyone
    when the server's forwarder has the media (``sender`` = ``"server"``)."""
    event = {"type": "webrtc_broadcast_start", "livestreamId": livestream_id, "from": sender}
    if sender == "server":
        return envelope(event, t="webrtc_broadcast_start")
    return envelope(event, t="webrtc_broadcast_start", role="shopper")


def broadcast_stop(livestream_id: int, reason: str | None = None) -> bytes:
    """The server-side publisher left (sfu/janus): viewers' media ended; the show may go on.
    ``reason`` (when known) says why, e.g. ``janus_down``: its media server went away, and the
    studio publishing it publishes again at once."""
    event: dict[str, Any] = {"type": "webrtc_broadcast_stop", "livestreamId": livestream_id}
    if reason is not None:
        event["reason"] = reason
    return envelope(event, t="webrtc_broadcast_stop")


def recording_status(livestream_id: int, state: str, reason: str | None = None) -> bytes:
    """To the show's sellers: the server's recording ``paused`` (``reason`` ``disk_full`` or
    ``write_failed``; live video goes on) or ``recording`` again (a new segment)."""
    event: dict[str, object] = {
        "type": "recording_status",
        "livestreamId": livestream_id,
        "state": state,
    }
    if reason is not None:
        event["reason"] = reason
    return envelope(event, t="recording_status", role="admin")


def media_reconnect(livestream_id: int, session_id: str) -> bytes:
    """To the socket whose page watches through WHEP session ``session_id`` (it said so with
    ``webrtc_watching``; nobody else gets it: the session id is its owner's capability): that
    session lost its media server (a Janus instance went away) while the show goes on; the player
    offers again at once."""
    event = {
        "type": "webrtc_reconnect",
        "livestreamId": livestream_id,
        "sessionIds": [session_id],
    }
    return envelope(event, t="webrtc_reconnect", whep=session_id)


def video_state(livestream_id: int, session_id: str, state: str, reason: str) -> bytes:
    """To the socket whose page watches through WHEP session ``session_id`` (it said so with
    ``webrtc_watching``; nobody else gets it: the session id is its owner's capability): the
    server paused (``state`` ``paused``, ``reason`` ``bandwidth``: the viewer's link cannot carry
    the lowest video layer; audio goes on) or resumed (``playing``) that session's video."""
    event = {
        "type": "webrtc_video_state",
        "livestreamId": livestream_id,
        "sessionId": session_id,
        "state": state,
        "reason": reason,
    }
    return envelope(event, t="webrtc_video_state", whep=session_id)


def viewer_joined(peer_id: str) -> str:
    """To the seller's sockets (p2p): a shopper to send the stream to joined."""
    return frame({"type": "webrtc_viewer_joined", "peerId": peer_id})


def viewer_left(peer_id: str) -> str:
    """To the seller's sockets (p2p): a shopper left; close the connection to them."""
    return frame({"type": "webrtc_viewer_left", "peerId": peer_id})
