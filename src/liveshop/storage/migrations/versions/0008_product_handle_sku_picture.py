"""products: handle, sku and image_key (catalogue management, Shopify CSV import/export)

Existing products get a handle made from their name (unique among live products, like Shopify's).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _slug(name: str) -> str:
    """The handle rule of 0008 (frozen here: later changes to the domain rule do not apply)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:200] or "product"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(sa.Column("handle", sa.String(255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("sku", sa.String(100), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("image_key", sa.String(64), nullable=False, server_default="")
        )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, name, deleted_at FROM products ORDER BY id")).all()
    taken: set[str] = set()
    for row in rows:
        base = _slug(row.name)
        handle, n = base, 1
        while handle in taken:
            n += 1
            handle = f"{base}-{n}"
        if row.deleted_at is None:
            taken.add(handle)
        conn.execute(
            sa.text("UPDATE products SET handle = :handle WHERE id = :id"),
            {"handle": handle, "id": row.id},
        )
    op.create_index(
        "uq_products_live_handle",
        "products",
        ["handle"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "uq_products_live_sku",
        "products",
        ["sku"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL AND sku <> ''"),
        postgresql_where=sa.text("deleted_at IS NULL AND sku <> ''"),
    )


def downgrade() -> None:
    op.drop_index("uq_products_live_sku", table_name="products")
    op.drop_index("uq_products_live_handle", table_name="products")
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_column("image_key")
        batch_op.drop_column("sku")
        batch_op.drop_column("handle")
