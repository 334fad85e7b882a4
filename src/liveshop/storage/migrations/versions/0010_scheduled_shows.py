"""scheduled shows: upcoming livestreams with a planned time and their planned products

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("livestreams") as batch_op:
        batch_op.add_column(
            sa.Column("upcoming", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_livestreams_upcoming",
        "livestreams",
        ["scheduled_at"],
        sqlite_where=sa.text("upcoming"),
        postgresql_where=sa.text("upcoming"),
    )
    op.create_table(
        "planned_products",
        sa.Column("livestream_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["livestream_id"],
            ["livestreams.id"],
            name="fk_planned_products_livestream_id_livestreams",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_planned_products_product_id_products"
        ),
        sa.PrimaryKeyConstraint("livestream_id", "product_id", name="pk_planned_products"),
    )


def downgrade() -> None:
    op.drop_table("planned_products")
    op.drop_index("ix_livestreams_upcoming", table_name="livestreams")
    with op.batch_alter_table("livestreams") as batch_op:
        batch_op.drop_column("scheduled_at")
        batch_op.drop_column("upcoming")
