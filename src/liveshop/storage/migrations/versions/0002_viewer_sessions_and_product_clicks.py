"""viewer sessions and product clicks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "product_clicks",
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("clicker", sa.String(length=40), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_product_clicks_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_clicks_product_id_products")
        ),
        sa.PrimaryKeyConstraint(
            "livestream_id", "product_id", "clicker", "minute", name=op.f("pk_product_clicks")
        ),
    )
    op.create_table(
        "viewer_sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("viewer", sa.String(length=40), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name=op.f("fk_viewer_sessions_livestream_id_livestreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_viewer_sessions")),
    )
    with op.batch_alter_table("viewer_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_viewer_sessions_stream", ["livestream_id", "joined_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("viewer_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_viewer_sessions_stream")

    op.drop_table("viewer_sessions")
    op.drop_table("product_clicks")
