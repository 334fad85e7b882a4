"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=False),
        sa.Column("product_url", sa.String(length=2048), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "livestreams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("peak_viewers", sa.Integer(), nullable=False),
        sa.Column("video_url", sa.String(length=2048), nullable=True),
        sa.Column("thumbnail_url", sa.String(length=2048), nullable=True),
        sa.Column("is_recorded", sa.Boolean(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("slow_mode_seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_livestreams_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_livestreams")),
    )
    with op.batch_alter_table("livestreams", schema=None) as batch_op:
        batch_op.create_index(
            "uq_livestreams_one_active",
            ["is_active"],
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )

    op.create_table(
        "bans",
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_bans_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("livestream_id", "user_id", name=op.f("pk_bans")),
    )
    op.create_table(
        "chat_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("user_role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("client_message_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_chat_messages_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_stream_id", ["livestream_id", "id"], unique=False)

    op.create_table(
        "likes",
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("liker", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_likes_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("livestream_id", "liker", name=op.f("pk_likes")),
    )
    op.create_table(
        "pinned_products",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unpinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_pinned_products_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_pinned_products_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pinned_products")),
    )
    with op.batch_alter_table("pinned_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pinned_products_livestream_id"), ["livestream_id"], unique=False
        )
        batch_op.create_index(
            "uq_pinned_products_current",
            ["livestream_id", "product_id"],
            unique=True,
            sqlite_where=sa.text("unpinned_at IS NULL"),
            postgresql_where=sa.text("unpinned_at IS NULL"),
        )

    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_recordings_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recordings_livestream_id"), ["livestream_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_livestream_id"))

    op.drop_table("recordings")
    with op.batch_alter_table("pinned_products", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_pinned_products_current",
            sqlite_where=sa.text("unpinned_at IS NULL"),
            postgresql_where=sa.text("unpinned_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_pinned_products_livestream_id"))

    op.drop_table("pinned_products")
    op.drop_table("likes")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_stream_id")

    op.drop_table("chat_messages")
    op.drop_table("bans")
    with op.batch_alter_table("livestreams", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_livestreams_one_active",
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )

    op.drop_table("livestreams")
    op.drop_table("users")
    op.drop_table("products")
