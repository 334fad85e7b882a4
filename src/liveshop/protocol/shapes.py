"""The shapes of shows, products, chat messages and users on the wire, shared by REST answers and
WebSocket events (camelCase JSON), and the row → shape mapping. Request bodies stay in ``api``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from liveshop.domain.money import format_price
from liveshop.domain.picture_names import WIDTHS, picture_url
from liveshop.storage.models import ChatMessage, Livestream, Product


class Out(BaseModel):
    """Base of every answer and event shape: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def dump(model: BaseModel) -> dict[str, Any]:
    """A shape as its JSON-ready dict (camelCase), for events and snapshots."""
    result: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return result


class UserOut(Out):
    id: str
    email: str | None = None
    name: str
    role: Literal["admin", "moderator", "customer", "guest"]


class PictureOut(Out):
    """One size of an uploaded picture (for ``srcset``)."""

    width: int
    url: str


class ProductOut(Out):
    id: int
    name: str
    description: str
    price: str = Field(examples=["19.99"])
    currency: str
    image_url: str
    product_url: str
    stock: int
    handle: str
    sku: str
    images: list[PictureOut] = Field(
        description="The uploaded picture's sizes, narrowest first; empty when the picture is a "
        "URL (imageUrl) or there is none"
    )


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
        handle=p.handle,
        sku=p.sku,
        images=[PictureOut(width=w, url=picture_url(p.image_key, w)) for w in WIDTHS]
        if p.image_key
        else [],
    )


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
    status: Literal["upcoming", "live", "ended"]
    scheduled_at: datetime | None


def show_status(s: Livestream) -> Literal["upcoming", "live", "ended"]:
    """``upcoming`` (scheduled, not started), ``live`` (the active show) or ``ended``."""
    if s.is_active:
        return "live"
    return "upcoming" if s.upcoming else "ended"


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
        status=show_status(s),
        scheduled_at=s.scheduled_at,
    )


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


def chat_out(m: ChatMessage) -> ChatMessageOut:
    return ChatMessageOut(
        id=m.id,
        livestream_id=m.livestream_id,
        user=ChatUser(id=m.user_id, name=m.user_name, role=m.user_role),
        text=m.text,
        created_at=m.created_at,
        client_message_id=m.client_message_id,
    )
