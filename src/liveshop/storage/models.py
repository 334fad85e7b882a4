"""Tables. Every schema change goes through an Alembic revision in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # in every token of this user; bumping it revokes them all (role change, deletion, CLI)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # SHA-256 of the seller's publish-only stream key (OBS), and its last 4 characters to show
    stream_key_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    stream_key_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        # A handle and a non-empty SKU name one product of the catalogue (deleted ones excepted):
        # CSV re-imports find the product by them.
        Index(
            "uq_products_live_handle",
            "handle",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "uq_products_live_sku",
            "sku",
            unique=True,
            sqlite_where=text("deleted_at IS NULL AND sku <> ''"),
            postgresql_where=text("deleted_at IS NULL AND sku <> ''"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    image_url: Mapped[str] = mapped_column(String(2048), default="")
    product_url: Mapped[str] = mapped_column(String(2048), default="")
    stock: Mapped[int] = mapped_column(Integer, default=0)
    # Shopify's product handle (URL slug): made from the name when not given, unique among live products
    handle: Mapped[str] = mapped_column(String(255), default="", server_default="")
    sku: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # content hash of an uploaded picture: its sizes are media/products/{key}-{width}.webp
    image_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Livestream(Base):
    __tablename__ = "livestreams"
    __table_args__ = (
        # At most one active livestream, enforced by the database itself.
        Index(
            "uq_livestreams_one_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index(
            "ix_livestreams_upcoming",
            "scheduled_at",
            sqlite_where=text("upcoming"),
            postgresql_where=text("upcoming"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    quality: Mapped[str] = mapped_column(String(16), default="720p")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    likes: Mapped[int] = mapped_column(Integer, default=0)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    video_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    thumbnail_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    is_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # identities must have watched this long before they may chat or like (0: off)
    new_shopper_wait_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bumped in the same transaction as every change to what a show's page shows live (likes,
    # pins, slow mode, state and fields): live updates carry it, and the newest one wins.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # a scheduled show not started yet (not active, no end): "Go live" makes it the live show
    upcoming: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PinnedProduct(Base):
    """A pin with its history: current pins have ``unpinned_at`` NULL."""

    __tablename__ = "pinned_products"
    __table_args__ = (
        Index(
            "uq_pinned_products_current",
            "livestream_id",
            "product_id",
            unique=True,
            sqlite_where=text("unpinned_at IS NULL"),
            postgresql_where=text("unpinned_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    position: Mapped[int] = mapped_column(Integer)
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unpinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PlannedProduct(Base):
    """A product announced for a scheduled show, in the seller's order."""

    __tablename__ = "planned_products"

    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_stream_id", "livestream_id", "id"),
        # a client's resend after a reconnect is found, and never stored twice, even when it
        # races the first send's commit on another process (chat.add, chat.find_sent)
        Index(
            "ix_chat_messages_client",
            "livestream_id",
            "user_id",
            "client_message_id",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    livestream_id: Mapped[int] = mapped_column(ForeignKey("livestreams.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(40))
    user_name: Mapped[str] = mapped_column(String(100))
    user_role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(2000))
    client_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Like(Base):
    """One like per livestream and liker identity (user id or guest id)."""

    __tablename__ = "likes"

    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), primary_key=True
    )
    liker: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ban(Base):
    """A user banned from one show's chat and room."""

    __tablename__ = "bans"

    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AddressBan(Base):
    """A client address banned from one show (an option of a ban: off by default, since carriers
    put many shoppers behind one address)."""

    __tablename__ = "address_bans"

    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(45), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))  # whose ban brought it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShopSetting(Base):
    """One shop-wide setting the seller manages (moderation: blocked words, links in chat)."""

    __tablename__ = "shop_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Recording(Base):
    """A recorded file (or segment) of a show, relative to the media directory."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(16))  # "server" | "part" | "upload"
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # where the file's time 0 falls on the show's clock (seconds after start_time)
    start_offset_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rendition(Base):
    """The MP4 rendition of a show's replay, made in the background (``replay/renditions.py``).

    ``generation`` is bumped by every request; a job that finishes an older generation than the
    stored one leaves the row queued (the recordings changed while it ran). ``updated_at`` is the
    job's heartbeat: a ``running`` row whose heartbeat stopped belongs to a process that died."""

    __tablename__ = "renditions"

    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    generation: Mapped[int] = mapped_column(Integer, default=1)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # JSON list of {start, duration, offset}: where each recorded file landed in the MP4, and
    # where that file starts on the show's clock
    parts: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Clip(Base):
    """A piece of a show's MP4 rendition: the time a product was pinned, or a seller's highlight.
    Times are seconds of the MP4; ``clip_*`` are where the keyframe cut really fell."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # pin | highlight
    title: Mapped[str] = mapped_column(String(200), default="")
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | done | failed
    path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    clip_start_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ViewerSession(Base):
    """One shopper socket in a show, from join to leave (open when the process died)."""

    __tablename__ = "viewer_sessions"
    __table_args__ = (Index("ix_viewer_sessions_stream", "livestream_id", "joined_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    livestream_id: Mapped[int] = mapped_column(ForeignKey("livestreams.id", ondelete="CASCADE"))
    viewer: Mapped[str] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(45), nullable=True)  # the client's
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ProductClick(Base):
    """A click on Buy, counted once per show, product, identity and minute."""

    __tablename__ = "product_clicks"

    livestream_id: Mapped[int] = mapped_column(
        ForeignKey("livestreams.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    clicker: Mapped[str] = mapped_column(String(40), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # Unix time // 60
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
