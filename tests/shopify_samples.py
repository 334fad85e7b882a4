"""Shopify product CSV files for the tests: a shop's export of 50 rows (products with variants on
continuation rows and extra image rows), optionally with bad rows in it."""

from __future__ import annotations

import csv
import io

HEADER = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Status",
]
# rows of the file (header excluded) that BAD_ROWS spoils: (row number as a spreadsheet shows it,
# column, value)
BAD_ROWS = [
    (5, "Variant Price", "12,50"),
    (17, "Variant Inventory Qty", "a dozen"),
    (30, "Image Src", "file:///C:/shop/pic.jpg"),
    (44, "Handle", "Bad Handle!"),
]


def shop_rows(price_bump: str = "0") -> list[dict[str, str]]:
    """50 data rows: 20 products; every product has 2 sizes (a continuation row), every fourth an
    extra image row, and 2 more sizes on the first ones until there are 50 rows."""
    rows: list[dict[str, str]] = []
    n = 0
    while len(rows) < 50:
        n += 1
        handle = f"product-{n:02d}"
        sizes = ["S", "M"] + (["L", "XL"] if n <= 3 else [])
        for i, size in enumerate(sizes):
            row = dict.fromkeys(HEADER, "")
            row |= {
                "Handle": handle,
                "Option1 Value": size,
                "Variant SKU": f"SKU-{n:02d}-{size}",
                "Variant Inventory Qty": str(n + i),
                "Variant Price": f"{10 + n + int(price_bump)}.{i}0",
                "Variant Inventory Tracker": "shopify",
                "Variant Requires Shipping": "TRUE",
            }
            if i == 0:
                row |= {
                    "Title": f"Product {n:02d}",
                    "Body (HTML)": f"<p>The <strong>{n}th</strong> thing &amp; more.</p>",
                    "Vendor": "Acme",
                    "Published": "TRUE",
                    "Option1 Name": "Size",
                    "Image Src": f"https://cdn.shop.example/p{n}.jpg",
                    "Image Position": "1",
                    "Status": "active",
                }
            rows.append(row)
            if len(rows) == 50:
                break
        if n % 4 == 0 and len(rows) < 50:
            extra = dict.fromkeys(HEADER, "")
            extra |= {
                "Handle": handle,
                "Image Src": f"https://cdn.shop.example/p{n}b.jpg",
                "Image Position": "2",
            }
            rows.append(extra)
    return rows


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def shop_csv(*, bad: bool = False, price_bump: str = "0") -> str:
    """The 50-row file; with ``bad``, the rows of :data:`BAD_ROWS` spoiled."""
    rows = shop_rows(price_bump)
    if bad:
        for row, column, value in BAD_ROWS:
            rows[row - 2][column] = value
    return to_csv(rows)


def products_in(text: str) -> set[str]:
    """The handles of the products in a file."""
    return {r["Handle"] for r in csv.DictReader(io.StringIO(text))}
