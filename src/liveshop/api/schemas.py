"""REST request bodies (camelCase on the wire) and the REST-only answer envelopes. The shapes of
shows, products, chat and users are the wire catalogue's (:mod:`liveshop.protocol.shapes`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from liveshop.api.routing import UnreadableBody
from liveshop.api.validation import (
    Currency,
    Email,
    Handle,
    IdBody,
    NewPassword,
    Password,
    Price,
    Sku,
    Url,
    integer,
    line,
    shopper_name,
    text,
)
from liveshop.protocol import ChatMessageOut, LivestreamOut, Out, ProductOut, UserOut

Quality = Literal["480p", "720p", "1080p"]


class Body(BaseModel):
    """Base of request bodies: camelCase names, unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _readable(cls, data: Any) -> Any:
        """A body that was not JSON (``api/routing.py``) is never valid, even when every field
        has a default: FastAPI would otherwise read it like an object with no attributes."""
        if isinstance(data, UnreadableBody):
            raise ValueError("the body is not JSON")  # answered with the parse error
        return data


# --- media ----------------------------------------------------------------------------------


class PlayerSizeBody(Body):
    """A viewer's player in device pixels (CSS size × devicePixelRatio); null height: no limit
    (full screen)."""

    width: int | None = Field(default=None, ge=0, le=16384)
    height: int | None = Field(default=None, ge=0, le=16384)


class PlaybackBody(Body):
    """How a viewer's player is doing, as its browser counts it since the WHEP session began
    (WebRTC inbound video ``freezeCount``, ``totalFreezesDuration`` in seconds,
    ``framesDecoded``)."""

    freezes: int = Field(ge=0, le=10**9)
    freeze_seconds: float = Field(ge=0, le=10**7)
    frames_decoded: int = Field(ge=0, le=10**12)


# --- auth -----------------------------------------------------------------------------------


class LoginBody(Body):
    email: Email
    password: Password


class RegisterBody(Body):
    email: Email
    password: NewPassword
    name: shopper_name(100)  # type: ignore[valid-type]


class GuestBody(Body):
    name: shopper_name(40) | None = None  # type: ignore[valid-type]


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserOut


class UserEnvelope(Out):
    user: UserOut


# --- products -------------------------------------------------------------------------------


class ProductCreate(Body):
    name: line(1, 200)  # type: ignore[valid-type]
    description: text(5000) = ""  # type: ignore[valid-type]
    price: Price
    currency: Currency = "USD"
    image_url: Url = ""
    product_url: Url = ""
    stock: integer(0, 1_000_000_000) = 0  # type: ignore[valid-type]
    handle: Handle | None = Field(
        default=None, description="Made from the name when omitted (unique among products)"
    )
    sku: Sku = ""


class ProductUpdate(Body):
    name: line(1, 200) | None = None  # type: ignore[valid-type]
    description: text(5000) | None = None  # type: ignore[valid-type]
    price: Price | None = None
    currency: Currency | None = None
    image_url: Url | None = None
    product_url: Url | None = None
    stock: integer(0, 1_000_000_000) | None = None  # type: ignore[valid-type]
    handle: Handle | None = None
    sku: Sku | None = None


class ProductEnvelope(Out):
    product: ProductOut


class ProductList(Out):
    products: list[ProductOut]
    next: int | None


# --- livestreams ----------------------------------------------------------------------------


class LivestreamCreate(Body):
    title: line(1, 200)  # type: ignore[valid-type]
    description: text(5000) = ""  # type: ignore[valid-type]
    quality: Quality = "720p"


class LivestreamUpdate(Body):
    title: line(1, 200) | None = None  # type: ignore[valid-type]
    description: text(5000) | None = None  # type: ignore[valid-type]
    video_url: Url | None = None
    thumbnail_url: Url | None = None
    is_recorded: Annotated[bool, Field(strict=True)] | None = None


class ScheduledCreate(Body):
    title: line(1, 200)  # type: ignore[valid-type]
    description: text(5000) = ""  # type: ignore[valid-type]
    quality: Quality = "720p"
    scheduled_at: AwareDatetime
    product_ids: Annotated[list[IdBody], Field(max_length=50)] = []


class RescheduleBody(Body):
    scheduled_at: AwareDatetime


class PlannedProductsBody(Body):
    product_ids: Annotated[list[IdBody], Field(max_length=50)]


class PlannedProductsOut(Out):
    products: list[ProductOut]


class PinBody(Body):
    product_id: IdBody


class LivestreamEnvelope(Out):
    livestream: LivestreamOut | None


class LivestreamList(Out):
    livestreams: list[LivestreamOut]
    next: int | None


class PinnedOut(Out):
    pinned_products: list[ProductOut]


# --- chat -----------------------------------------------------------------------------------


class ChatList(Out):
    messages: list[ChatMessageOut]


# --- misc -----------------------------------------------------------------------------------


class MediaInstanceHealth(Out):
    url: str
    state: Literal["up", "down"]


class MediaHealth(Out):
    mode: str
    state: Literal["ok", "degraded"]
    instances: list[MediaInstanceHealth] = Field(default_factory=list)  # janus: each instance


class DiskHealth(Out):
    state: Literal["ok", "low", "full"]
    freeBytes: int
    recording: Literal["ok", "paused"]  # paused: a recording stopped for want of space


class Health(Out):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "down"]
    broker: str  # the broker's name ("memory", "redis") when it works; "degraded" meanwhile
    media: MediaHealth
    disk: DiskHealth


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
