"""Catalogue benchmark (run as ``python -m bench.catalogue``).

What a shop's first CSV import and a picture upload cost, each against a reference doing the bare
minimum of the same work, measured in the same run (only ratios are meaningful on a shared
machine):

* **read** a Shopify product CSV of ``--products`` products × 2 variants (``shopify_csv.parse``:
  grouping, prices, HTML to text, every check) against ``csv.DictReader`` reading the same text;
* **import** it into an empty catalogue (``catalogue_for_import`` + ``plan`` + ``apply_import`` in
  one transaction: what ``POST /api/products/import`` does after reading) against one Core
  ``INSERT … executemany`` of the same rows;
* **re-import** it with new prices (every product updated) against one Core ``UPDATE``
  executemany;
* **picture**: ``pictures.store`` of a 4000×3000 JPEG (decode, EXIF transpose, three WebP sizes)
  against Pillow decoding it and writing one 1024 px WebP.

The target is that a 5,000-product import (the read and the write) stays well inside an HTTP
request: under 15 s on SQLite on this 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import bindparam, insert, update

from liveshop import pictures
from liveshop.domain import catalogue_import, shopify_csv
from liveshop.storage import products
from liveshop.storage.engine import Database
from liveshop.storage.migrate import upgrade
from liveshop.storage.models import Product, utcnow

HEADER = ["Handle", "Title", "Body (HTML)", "Option1 Name", "Option1 Value", "Variant SKU",
          "Variant Inventory Qty", "Variant Price", "Image Src", "Status"]  # fmt: skip


def make_csv(count: int, price_bump: int = 0) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for n in range(count):
        for i, size in enumerate(("S", "M")):
            row = {
                "Handle": f"product-{n}",
                "Option1 Value": size,
                "Variant SKU": f"SKU-{n}-{size}",
                "Variant Inventory Qty": str(n % 50),
                "Variant Price": f"{10 + n % 90 + price_bump}.{i}9",
            }
            if i == 0:
                row |= {
                    "Title": f"Product {n}",
                    "Body (HTML)": f"<p>The <b>{n}th</b> product &amp; more.</p><ul><li>soft</li></ul>",
                    "Option1 Name": "Size",
                    "Image Src": f"https://cdn.example/p{n}.jpg",
                    "Status": "active",
                }
            writer.writerow(row)
    return out.getvalue()


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def atimed(coro: Any) -> float:
    start = time.perf_counter()
    await coro
    return time.perf_counter() - start


async def import_file(db: Database, text: str) -> None:
    parsed = shopify_csv.parse(text)
    assert not parsed.errors, parsed.errors[:3]
    async with db.session() as session:
        plan = catalogue_import.plan(parsed.products, await products.catalogue_for_import(session))
        await products.apply_import(session, plan)


async def reference_insert(db: Database, drafts: list[shopify_csv.ProductDraft]) -> None:
    now = utcnow()
    rows = [
        {"name": d.name, "description": d.description, "price": d.price, "currency": "USD",
         "image_url": d.image_url or "", "product_url": "", "stock": d.stock, "handle": d.handle,
         "sku": d.sku, "image_key": "", "created_at": now, "updated_at": now}
        for d in drafts
    ]  # fmt: skip
    async with db.engine.begin() as conn:
        await conn.execute(insert(Product.__table__), rows)


async def reference_update(db: Database, drafts: list[shopify_csv.ProductDraft]) -> None:
    rows = [{"h": d.handle, "p": d.price + Decimal(1)} for d in drafts]
    table = Product.__table__
    async with db.engine.begin() as conn:
        await conn.execute(
            update(table).where(table.c.handle == bindparam("h")).values(price=bindparam("p")),
            rows,
        )


async def database_rows(directory: Path, count: int) -> list[tuple[str, float, float]]:
    text, bumped = make_csv(count), make_csv(count, price_bump=1)
    drafts = shopify_csv.parse(text).products
    results = []
    urls = [f"sqlite+aiosqlite:///{directory / name}.db" for name in ("liveshop", "reference")]
    for url in urls:
        await upgrade(url)
    ours, ref = Database(urls[0]), Database(urls[1])
    try:
        first = await atimed(import_file(ours, text))
        base = await atimed(reference_insert(ref, drafts))
        results.append((f"import {count} products (create)", first, base))
        again = await atimed(import_file(ours, bumped))
        base = await atimed(reference_update(ref, drafts))
        results.append((f"re-import {count} products (update)", again, base))
        async with ours.session() as session:
            assert await products.count(session) == count
    finally:
        await ours.close()
        await ref.close()
    return results


def picture_row(directory: Path) -> tuple[str, float, float]:
    photo = Image.radial_gradient("L").resize((4000, 3000)).convert("RGB")
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    data = out.getvalue()

    def reference() -> None:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image.resize((1024, 768)).save(directory / "ref.webp", "WEBP", quality=82, method=4)

    ours = timed(lambda: pictures.store(data, directory / "media"))
    return ("picture 4000×3000 JPEG → 3 WebP sizes", ours, timed(reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=5000)
    args = parser.parse_args()
    text = make_csv(args.products)
    rows = [
        (
            f"read CSV ({2 * args.products} rows)",
            timed(lambda: shopify_csv.parse(text)),
            timed(lambda: list(csv.DictReader(io.StringIO(text)))),
        )
    ]
    with tempfile.TemporaryDirectory(prefix="liveshop-bench-") as tmp:
        rows += asyncio.run(database_rows(Path(tmp), args.products))
        rows.append(picture_row(Path(tmp)))
    print(f"{'step':<42} {'liveshop s':>11} {'reference s':>12} {'ratio':>7}")
    for name, ours, reference in rows:
        print(f"{name:<42} {ours:>11.3f} {reference:>12.3f} {ours / reference:>6.1f}x")
    total = rows[0][1] + rows[1][1]
    verdict = "met" if total < 15 else "MISSED"
    print(
        f"\nread + first import of {args.products} products: {total:.1f} s (target < 15 s: {verdict})"
    )


if __name__ == "__main__":
    main()
