"""The catalogue of every WebSocket message, both directions, encoded and decoded here only.

* Client → server: one pydantic model per ``type`` in :data:`CLIENT_MESSAGES`; :func:`decode_client`
  turns a text frame into a validated model or raises :class:`ProtocolError` with an error code.
* Server → client: the builder functions below. Each returns an *envelope* (``bytes``) ready for the
  broker: a one-line JSON header for the hub (routing, coalescing), then the frame every socket gets.
  A broadcast is serialized once, whatever the number of viewers.

``docs/protocol.md`` documents each message with an example.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

MAX_FRAME_BYTES = 16 * 1024
MAX_BATCH_EVENTS = 500
MAX_BATCH_CHARS = 64 * 1024

ErrorCode = Literal[
    "unauthorized",
    "forbidden",
    "invalid",
    "not_found",
    "not_live",
    "rate_limited",
    "slow_mode",
    "banned",
    "too_large",
]


class ProtocolError(Exception):
    """A client message was refused; becomes ``error {code, message, retryAfter?, ref?}``."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        retry_after: float | None = None,
        ref: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after, self.ref = code, message, retry_after, ref


# --- client → server ------------------------------------------------------------------------

Id = Annotated[StrictInt, Field(ge=1, le=2**62)]
PeerId = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Join(ClientMessage):
    type: Literal["join"]
    livestreamId: Id
    afterMessageId: Annotated[StrictInt, Field(ge=0, le=2**62)] | None = None


class ChatSend(ClientMessage):
    type: Literal["chat_send"]
    text: Annotated[StrictStr, Field(max_length=2000)]
    clientMessageId: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None


class LikeToggle(ClientMessage):
    type: Literal["like_toggle"]


class ChatDelete(ClientMessage):
    type: Literal["chat_delete"]
    messageId: Id


class UserBan(ClientMessage):
    type: Literal["user_ban"]
    userId: Annotated[StrictStr, Field(min_length=1, max_length=40)]
    deleteMessages: StrictBool = False


class SlowMode(ClientMessage):
    type: Literal["slow_mode"]
    seconds: Annotated[StrictInt, Field(ge=0, le=3600)]


class Ping(ClientMessage):
    type: Literal["ping"]


class Leave(ClientMessage):
    type: Literal["leave"]


class BroadcastStart(ClientMessage):
    type: Literal["webrtc_broadcast_start"]


class _Signal(ClientMessage):
    to: PeerId


class Offer(_Signal):
    type: Literal["webrtc_offer"]
    offer: dict[str, Any]


class Answer(_Signal):
    type: Literal["webrtc_answer"]
    answer: dict[str, Any]


class IceCandidate(_Signal):
    type: Literal["webrtc_ice_candidate"]
    candidate: dict[str, Any] | None


CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    "join": Join,
    "leave": Leave,
    "chat_send": ChatSend,
    "like_toggle": LikeToggle,
    "chat_delete": ChatDelete,
    "user_ban": UserBan,
    "slow_mode": SlowMode,
    "ping": Ping,
    "webrtc_broadcast_start": BroadcastStart,
    "webrtc_offer": Offer,
    "webrtc_answer": Answer,
    "webrtc_ice_candidate": IceCandidate,
}
SELLER_ONLY = frozenset(
    {"chat_delete", "user_ban", "slow_mode", "webrtc_broadcast_start", "webrtc_offer"}
)


def decode_client(text: str) -> ClientMessage:
    """Validate one text frame; raise :class:`ProtocolError` (``too_large`` or ``invalid``)."""
    if len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise ProtocolError("too_large", f"messages are limited to {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("invalid", "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid", "message must be a JSON object")
    ref = data.get("clientMessageId")
    ref = ref if isinstance(ref, str) and len(ref) <= 64 else None
    kind = data.get("type")
    model = CLIENT_MESSAGES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ProtocolError("invalid", f"unknown message type {str(kind)[:40]!r}", ref=ref)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "message"
        raise ProtocolError("invalid", f"{field}: {first.get('msg', 'invalid')}", ref=ref) from None


# --- server → client ------------------------------------------------------------------------


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
    deliver only to that role; ``ctl`` a control verb for hubs; ``chat`` a chat message id (for
    duplicate-free resume).
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


def banned(livestream_id: int, user_id: str) -> bytes:
    """Control for every hub: close ``user_id``'s sockets in the show; they get ``error banned``."""
    return envelope(None, ctl="ban", user=user_id, show=livestream_id)


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


def broadcast_stop(livestream_id: int) -> bytes:
    """The server-side publisher left (sfu/janus): viewers' media ended; the show may go on."""
    event = {"type": "webrtc_broadcast_stop", "livestreamId": livestream_id}
    return envelope(event, t="webrtc_broadcast_stop")


def viewer_joined(peer_id: str, to: str | None = None) -> bytes:
    meta: dict[str, Any] = {"t": "webrtc_viewer_joined", "role": "admin"}
    if to:
        meta["to"] = to
    return envelope({"type": "webrtc_viewer_joined", "peerId": peer_id}, **meta)


def viewer_left(peer_id: str) -> bytes:
    return envelope(
        {"type": "webrtc_viewer_left", "peerId": peer_id}, t="webrtc_viewer_left", role="admin"
    )


def peer_control(
    op: Literal["join", "leave", "hello"], peer_id: str, role: str, node: str
) -> bytes:
    """Control for every hub: keep the show's directory of peers (for signalling) in step."""
    return envelope(None, ctl="peer", op=op, peer=peer_id, role=role, node=node)
