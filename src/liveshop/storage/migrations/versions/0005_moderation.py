"""moderation: address bans, new-shopper wait, viewer addresses, stream keys, shop settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("livestreams") as batch_op:
        batch_op.add_column(
            sa.Column("new_shopper_wait_seconds", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("viewer_sessions") as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(45), nullable=True))
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("stream_key_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("stream_key_hint", sa.String(8), nullable=True))
        batch_op.create_unique_constraint("uq_users_stream_key_hash", ["stream_key_hash"])
    op.create_table(
        "address_bans",
        sa.Column(
            "livestream_id",
            sa.Integer(),
            sa.ForeignKey(
                "livestreams.id",
                ondelete="CASCADE",
                name="fk_address_bans_livestream_id_livestreams",
            ),
            nullable=False,
        ),
        sa.Column("address", sa.String(45), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("livestream_id", "address", name="pk_address_bans"),
    )
    op.create_table(
        "shop_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_shop_settings"),
    )


def downgrade() -> None:
    op.drop_table("shop_settings")
    op.drop_table("address_bans")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_stream_key_hash", type_="unique")
        batch_op.drop_column("stream_key_hint")
        batch_op.drop_column("stream_key_hash")
    with op.batch_alter_table("viewer_sessions") as batch_op:
        batch_op.drop_column("address")
    with op.batch_alter_table("livestreams") as batch_op:
        batch_op.drop_column("new_shopper_wait_seconds")
