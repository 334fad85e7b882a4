"""Catalogue storage: an import is written whole or not at all, on both backends."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from liveshop.domain import catalogue_import, shopify_csv
from liveshop.storage import products
from liveshop.storage.engine import Database
from liveshop.storage.errors import Conflict

CSV = (
    "Handle,Title,Variant Price,Variant SKU\n"
    "alpha,Alpha,1.00,A-1\n"
    "beta,Beta,2.00,B-1\n"
    "gamma,Gamma,3.00,G-1\n"
)


async def test_an_import_that_collides_at_write_time_writes_nothing(database_url: str) -> None:
    """A handle taken between the plan and the write rolls the whole import back (409)."""
    db = Database(database_url)
    try:
        parsed = shopify_csv.parse(CSV)
        async with db.session() as session:
            plan = catalogue_import.plan(
                parsed.products, await products.catalogue_for_import(session)
            )
        assert [i.action for i in plan.items] == ["create", "create", "create"]
        async with db.session() as session:  # another seller's tab, meanwhile
            await products.create(session, name="Gamma elsewhere", price=Decimal(5), handle="gamma")
        with pytest.raises(Conflict):
            async with db.session() as session:
                await products.apply_import(session, plan)
        async with db.session() as session:
            rows, _ = await products.list_page(session, limit=10)
        assert [p.handle for p in rows] == ["gamma"]
    finally:
        await db.close()


async def test_concurrent_creates_of_one_sku_keep_one(database_url: str) -> None:
    """Two products can never hold one SKU, even created at the same moment."""
    db = Database(database_url)
    try:

        async def create(i: int) -> bool:
            try:
                async with db.session() as session:
                    await products.create(session, name=f"P{i}", price=Decimal(1), sku="SAME")
                return True
            except Conflict:
                return False

        results = await asyncio.gather(*[create(i) for i in range(8)])
        assert results.count(True) == 1
    finally:
        await db.close()
