"""Client → server: one pydantic model per ``type`` and the one decoder.

:func:`decode_client` turns a text frame into a validated model or raises
:class:`ProtocolError` with an error code (the hub answers it as ``error``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

MAX_FRAME_BYTES = 16 * 1024  # so an SDP in signalling is at most 16 KiB too
MAX_CANDIDATE_BYTES = 1024  # a real candidate line is ~100-200 bytes

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
    "too_new",
    "blocked",
    "unavailable",
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
ShowId = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]  # shows' ids are 32-bit in both databases
PeerId = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Join(ClientMessage):
    type: Literal["join"]
    livestreamId: ShowId
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
    banAddress: StrictBool = False  # also the client addresses the user is connected from


class UserUnban(ClientMessage):
    type: Literal["user_unban"]
    userId: Annotated[StrictStr, Field(min_length=1, max_length=40)]


class NewShopperWait(ClientMessage):
    type: Literal["new_shopper_wait"]
    seconds: Annotated[StrictInt, Field(ge=0, le=3600)]


class SlowMode(ClientMessage):
    type: Literal["slow_mode"]
    seconds: Annotated[StrictInt, Field(ge=0, le=3600)]


class Ping(ClientMessage):
    type: Literal["ping"]


class Leave(ClientMessage):
    type: Literal["leave"]


class BroadcastStart(ClientMessage):
    type: Literal["webrtc_broadcast_start"]


class Watching(ClientMessage):
    """This socket's page watches the show through WHEP session ``sessionId`` (server-forwarded
    modes): what the server says about that session alone is sent to this socket."""

    type: Literal["webrtc_watching"]
    sessionId: Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


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

    @field_validator("candidate")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > MAX_CANDIDATE_BYTES:
            raise ValueError(f"an ICE candidate is at most {MAX_CANDIDATE_BYTES} bytes")
        return value


CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {
    "join": Join,
    "leave": Leave,
    "chat_send": ChatSend,
    "like_toggle": LikeToggle,
    "chat_delete": ChatDelete,
    "user_ban": UserBan,
    "user_unban": UserUnban,
    "slow_mode": SlowMode,
    "new_shopper_wait": NewShopperWait,
    "ping": Ping,
    "webrtc_broadcast_start": BroadcastStart,
    "webrtc_watching": Watching,
    "webrtc_offer": Offer,
    "webrtc_answer": Answer,
    "webrtc_ice_candidate": IceCandidate,
}
# the seller or a moderator (Identity.is_staff)
STAFF_ONLY = frozenset({"chat_delete", "user_ban", "user_unban", "slow_mode", "new_shopper_wait"})
# the seller only: the media of the show (p2p)
SELLER_ONLY = frozenset({"webrtc_broadcast_start", "webrtc_offer"})


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
