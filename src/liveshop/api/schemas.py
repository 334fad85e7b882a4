"""Request and response models (camelCase on the wire) and the row → JSON mapping."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from liveshop.api.validation import (
    Currency,
    Email,
    NewPassword,
    Password,
    Price,
    Url,
    line,
    text,
)
from liveshop.domain.money import format_price
from liveshop.storage.models import ChatMessage, Livestream, Product

Quality = Literal["480p", "720p", "1080p"]


def dump(model: BaseModel) -> dict[str, Any]:
    """A response model as its JSON-ready dict (camelCase), for events and snapshots."""
    result: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return result


class Body(BaseModel):
    """Base of request bodies: camelCase names, unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# --- auth -----------------------------------------------------------------------------------


class LoginBody(Body):
    email: Email
    password: Password


class RegisterBody(Body):
    email: Email
    password: NewPassword
    name: line(1, 100)  # type: ignore[valid-type]


class GuestBody(Body):
    name: line(1, 40) | None = None  # type: ignore[valid-type]


class UserOut(Out):
    id: str
    email: str | None = None
    name: str
    role: Literal["admin", "customer", "guest"]


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
    stock: Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)] = 0


class ProductUpdate(Body):
    name: line(1, 200) | None = None  # type: ignore[valid-type]
    description: text(5000) | None = None  # type: ignore[valid-type]
    price: Price | None = None
    currency: Currency | None = None
    image_url: Url | None = None
    product_url: Url | None = None
    stock: Annotated[int, Field(ge=0, le=1_000_000_000, strict=True)] | None = None


class ProductOut(Out):
    id: int
    name: str
    description: str
    price: str = Field(examples=["19.99"])
    currency: str
    image_url: str
    product_url: str
    stock: int


class ProductEnvelope(Out):
    product: ProductOut


class ProductList(Out):
    products: list[ProductOut]
    next: int | None


def product_out(p: Product) -> ProductOut:
    return ProductOut(
        id=p.id,
        name=p.name,
        description=p.description,
        price=format_price(Decimal(p.price)),
        currency=p.currency,
        image_url=p.image_url,
        product_url=p.product_url,
        stock=p.stock,
    )


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


class PinBody(Body):
    product_id: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]


class LivestreamOut(Out):
    id: int
    title: str
    description: str
    quality: str
    is_active: bool
    start_time: datetime
    end_time: datetime | None
    created_by: str
    likes: int
    viewer_count: int
    peak_viewers: int
    pinned_products: list[ProductOut]
    video_url: str | None
    thumbnail_url: str | None
    is_recorded: bool
    duration_seconds: float | None


class LivestreamEnvelope(Out):
    livestream: LivestreamOut | None


class LivestreamList(Out):
    livestreams: list[LivestreamOut]
    next: int | None


class PinnedOut(Out):
    pinned_products: list[ProductOut]


def livestream_out(s: Livestream, pins: list[Product], viewer_count: int) -> LivestreamOut:
    return LivestreamOut(
        id=s.id,
        title=s.title,
        description=s.description,
        quality=s.quality,
        is_active=s.is_active,
        start_time=s.start_time,
        end_time=s.end_time,
        created_by=s.created_by,
        likes=s.likes,
        viewer_count=viewer_count,
        peak_viewers=max(s.peak_viewers, viewer_count),
        pinned_products=[product_out(p) for p in pins],
        video_url=s.video_url,
        thumbnail_url=s.thumbnail_url,
        is_recorded=s.is_recorded,
        duration_seconds=s.duration_seconds,
    )


# --- chat -----------------------------------------------------------------------------------


class ChatUser(Out):
    id: str
    name: str
    role: str


class ChatMessageOut(Out):
    id: int
    livestream_id: int
    user: ChatUser
    text: str
    created_at: datetime
    client_message_id: str | None = None


class ChatList(Out):
    messages: list[ChatMessageOut]


def chat_out(m: ChatMessage) -> ChatMessageOut:
    return ChatMessageOut(
        id=m.id,
        livestream_id=m.livestream_id,
        user=ChatUser(id=m.user_id, name=m.user_name, role=m.user_role),
        text=m.text,
        created_at=m.created_at,
        client_message_id=m.client_message_id,
    )


# --- misc -----------------------------------------------------------------------------------


class Health(Out):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "down"]
    broker: str


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
