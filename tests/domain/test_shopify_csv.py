"""Shopify product CSV: reading drafts with per-row errors, and writing the catalogue."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from liveshop.domain.shopify_csv import (
    CURRENCY_COLUMN,
    PRODUCT_URL_COLUMN,
    ExportProduct,
    UnreadableCsv,
    decode,
    export,
    localize,
    parse,
)

HEADER = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Option1 Name",
    "Option1 Value",
    "Variant SKU",
    "Variant Inventory Qty",
    "Variant Price",
    "Image Src",
    "Image Position",
    "Status",
]


def csv_text(*rows: dict[str, str], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def test_variants_on_continuation_rows_make_one_product() -> None:
    """Rows sharing a Handle are one product: lowest price, summed stock, first SKU and image."""
    text = csv_text(
        {
            "Handle": "linen-shirt",
            "Title": "Linen shirt",
            "Body (HTML)": "<p>Cool &amp; light</p>",
            "Option1 Name": "Size",
            "Option1 Value": "S",
            "Variant SKU": "LS-S",
            "Variant Inventory Qty": "3",
            "Variant Price": "49.00",
            "Image Src": "https://cdn.example/b.jpg",
            "Image Position": "2",
            "Status": "active",
        },
        {
            "Handle": "linen-shirt",
            "Option1 Value": "M",
            "Variant SKU": "LS-M",
            "Variant Inventory Qty": "4",
            "Variant Price": "45.50",
            "Image Src": "https://cdn.example/a.jpg",
            "Image Position": "1",
        },
        {"Handle": "linen-shirt", "Image Src": "https://cdn.example/c.jpg", "Image Position": "3"},
    )
    parsed = parse(text)
    assert parsed.errors == [] and parsed.rows == 3
    (p,) = parsed.products
    assert (p.row, p.handle, p.name, p.description) == (
        2,
        "linen-shirt",
        "Linen shirt",
        "Cool & light",
    )
    assert (p.price, p.stock, p.sku, p.variants) == (Decimal("45.50"), 7, "LS-S", 2)
    assert p.image_url == "https://cdn.example/a.jpg"
    assert p.currency is None and p.product_url is None  # not in the file: updates keep them


def test_each_bad_row_is_reported_with_its_row_and_column() -> None:
    """Bad prices, quantities, URLs and missing titles are errors naming row and column."""
    text = csv_text(
        {"Handle": "ok", "Title": "Fine", "Variant Price": "10"},
        {"Handle": "bad-price", "Title": "X", "Variant Price": "12.345"},
        {"Handle": "bad-qty", "Title": "Y", "Variant Price": "5", "Variant Inventory Qty": "lots"},
        {"Handle": "bad-image", "Title": "Z", "Variant Price": "5", "Image Src": "ftp://x/y.jpg"},
        {"Handle": "no-title", "Variant Price": "5"},
        {"Handle": "Not A Handle!", "Title": "W", "Variant Price": "5"},
        {"Handle": "", "Title": "V", "Variant Price": "5"},
    )
    parsed = parse(text)
    assert [p.handle for p in parsed.products] == ["ok"]
    assert [(e.row, e.column) for e in parsed.errors] == [
        (3, "Variant Price"),
        (4, "Variant Inventory Qty"),
        (5, "Image Src"),
        (6, "Title"),
        (7, "Handle"),
        (8, "Handle"),
    ]


def test_a_product_without_a_price_is_an_error() -> None:
    """A product with no variant row cannot be sold: Variant Price is required."""
    parsed = parse(csv_text({"Handle": "x", "Title": "X"}))
    assert parsed.products == []
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "Variant Price")]


def test_the_same_sku_on_two_products_is_an_error() -> None:
    """A SKU names one product: the second product with it is refused."""
    parsed = parse(
        csv_text(
            {"Handle": "a", "Title": "A", "Variant Price": "1", "Variant SKU": "S1"},
            {"Handle": "b", "Title": "B", "Variant Price": "1", "Variant SKU": "S1"},
        )
    )
    assert [p.handle for p in parsed.products] == ["a"]
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "Variant SKU")]


def test_a_handle_used_by_two_titled_rows_is_an_error() -> None:
    """Two first rows (with a Title) for one Handle are two products: refused."""
    parsed = parse(
        csv_text(
            {"Handle": "a", "Title": "A", "Variant Price": "1"},
            {"Handle": "a", "Title": "Again", "Variant Price": "2"},
        )
    )
    assert parsed.products == []
    assert parsed.errors[0].row == 3 and "row 2" in parsed.errors[0].message


def test_missing_columns_are_one_file_error() -> None:
    """A file without Handle, Title or Variant Price columns is not a Shopify product CSV."""
    parsed = parse("name,price\nScarf,10\n")
    assert parsed.products == [] and len(parsed.errors) == 1
    assert parsed.errors[0].row == 1 and "Handle" in parsed.errors[0].message


def test_archived_products_are_marked_and_negative_stock_is_zero() -> None:
    """Status archived is kept on the draft (skipped later); oversold stock counts as 0."""
    parsed = parse(
        csv_text(
            {
                "Handle": "a",
                "Title": "A",
                "Variant Price": "1",
                "Status": "archived",
                "Variant Inventory Qty": "-4",
            },
        )
    )
    (p,) = parsed.products
    assert p.archived and p.stock == 0


def test_shop_url_gives_each_product_its_link() -> None:
    """With a shop URL, a product's link is the shop's page for its handle."""
    parsed = parse(
        csv_text({"Handle": "a", "Title": "A", "Variant Price": "1"}),
        shop_url="https://shop.example/",
    )
    assert parsed.products[0].product_url == "https://shop.example/products/a"


def test_not_utf8_is_unreadable() -> None:
    """Bytes that are not UTF-8 are refused with a message saying how to save the file."""
    with pytest.raises(UnreadableCsv, match="UTF-8"):
        decode("Handle,Title\nä,ö\n".encode("latin-1"))
    assert decode("\ufeffHandle".encode()) == "Handle"


def test_export_reads_back_to_the_same_products() -> None:
    """An exported catalogue parses back to the same fields (pictures back to paths)."""
    product = ExportProduct(
        handle="tote",
        name='Canvas tote, "big"',
        description="Strong.\nWashable.\n\nMade in Porto.",
        price=Decimal("18.00"),
        currency="GBP",
        stock=40,
        sku="TOTE-1",
        image_url="/media/products/abc-480.webp",
        product_url="/static/buy.html?product=tote",
    )
    text = export([product], base_url="http://shop.test:8000")
    assert "http://shop.test:8000/media/products/abc-480.webp" in text
    parsed = parse(text)
    assert parsed.errors == []
    (p,) = parsed.products
    assert (p.handle, p.name, p.description, p.price, p.stock, p.sku) == (
        "tote",
        product.name,
        product.description,
        Decimal("18.00"),
        40,
        "TOTE-1",
    )
    assert p.currency == "GBP" and p.product_url == product.product_url
    assert p.image_url is not None
    assert localize(p.image_url, "http://shop.test:8000") == product.image_url


def test_metafield_columns_are_checked() -> None:
    """liveshop's currency and product-URL columns refuse values the API would refuse."""
    header = [*HEADER, CURRENCY_COLUMN, PRODUCT_URL_COLUMN]
    parsed = parse(
        csv_text(
            {
                "Handle": "a",
                "Title": "A",
                "Variant Price": "1",
                CURRENCY_COLUMN: "euro",
                PRODUCT_URL_COLUMN: "javascript:alert(1)",
            },
            header=header,
        )
    )
    assert parsed.products == []
    assert {e.column for e in parsed.errors} == {CURRENCY_COLUMN, PRODUCT_URL_COLUMN}
