"""First-run setup: the admin account (credentials kept in ``data/``) and a demo catalogue."""

from __future__ import annotations

import os
import re
import secrets
from decimal import Decimal
from pathlib import Path

from liveshop.security import hash_password
from liveshop.storage import products, users
from liveshop.storage.engine import Database
from liveshop.storage.errors import Conflict

DEMO_ADMIN_EMAIL = "admin@liveshop.local"

DEMO_PRODUCTS: list[dict[str, object]] = [
    {
        "name": "Linen Summer Shirt",
        "price": Decimal("39.90"),
        "stock": 25,
        "description": "Breathable washed linen, relaxed fit.",
        "color": "#c9b79c",
    },
    {
        "name": "Ceramic Pour-Over Set",
        "price": Decimal("54.00"),
        "stock": 12,
        "description": "Hand-glazed dripper with two cups.",
        "color": "#7a9e9f",
    },
    {
        "name": "Leather Card Wallet",
        "price": Decimal("29.50"),
        "stock": 40,
        "description": "Vegetable-tanned, six cards, slim.",
        "color": "#8b5a2b",
    },
    {
        "name": "Wireless Earbuds",
        "price": Decimal("79.99"),
        "stock": 18,
        "description": "Noise cancelling, 24 h with the case.",
        "color": "#333a45",
    },
    {
        "name": "Soy Candle — Fig",
        "price": Decimal("18.00"),
        "stock": 60,
        "description": "40 hours of fig and cedar.",
        "color": "#a4697a",
    },
    {
        "name": "Merino Beanie",
        "price": Decimal("24.95"),
        "stock": 33,
        "description": "Soft, warm, one size.",
        "color": "#4f6d7a",
    },
    {
        "name": "Bamboo Cutting Board",
        "price": Decimal("32.00"),
        "stock": 20,
        "description": "Reversible, juice groove.",
        "color": "#c8a165",
    },
    {
        "name": "Canvas Tote Bag",
        "price": Decimal("15.00"),
        "stock": 80,
        "description": "Heavy canvas, inner pocket.",
        "color": "#d8cfc4",
    },
]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


async def ensure_admin(db: Database, data_dir: Path) -> tuple[str, str] | None:
    """Create the first admin when there is none; return (e-mail, password) when one was created.

    The credentials are also written to ``{data_dir}/admin-credentials.txt`` with mode 0600.
    """
    async with db.session() as session:
        if await users.count_admins(session) > 0:
            return None
    password = secrets.token_urlsafe(12)
    password_hash = await hash_password(password)
    try:
        async with db.session() as session:
            if await users.count_admins(session) > 0:
                return None
            await users.create_user(
                session,
                email=DEMO_ADMIN_EMAIL,
                name="Shop Admin",
                role="admin",
                password_hash=password_hash,
            )
    except Conflict:  # another process (another worker or machine) created it first
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "admin-credentials.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"email: {DEMO_ADMIN_EMAIL}\npassword: {password}\n")
    os.chmod(path, 0o600)
    return DEMO_ADMIN_EMAIL, password


async def seed_demo(db: Database) -> int:
    """Add the demo catalogue when the catalogue is empty; return how many products were added."""
    async with db.session() as session:
        if await products.count(session) > 0:
            return 0
        for item in DEMO_PRODUCTS:
            name = str(item["name"])
            await products.create(
                session,
                name=name,
                description=item["description"],
                price=item["price"],
                currency="USD",
                stock=item["stock"],
                image_url=f"/static/demo/{slug(name)}.svg",
                product_url=f"/static/buy.html?product={slug(name)}",
            )
    return len(DEMO_PRODUCTS)
