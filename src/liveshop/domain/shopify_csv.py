"""Shopify's product CSV: reading it into product drafts with per-row errors, and writing the
catalogue in it. Pure: text in, values out.

liveshop has no variants: a Shopify product (the rows sharing one ``Handle``: the first with the
``Title``, then one per further variant and one per further image) becomes one liveshop product.
Its price is the lowest variant price (what a shop shows as "from"), its stock the sum of the
variants' ``Variant Inventory Qty`` (negative counts as 0), its SKU the first variant SKU, its
picture the first ``Image Src`` (by ``Image Position``) or else the first ``Variant Image``.
``Body (HTML)`` becomes plain text. ``Status: archived`` products are skipped. Two liveshop
metafield columns carry what Shopify's format has no column for, so an export imports back as it
was: ``Product URL (product.metafields.liveshop.product_url)`` and
``Currency (product.metafields.liveshop.currency)``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from liveshop.domain.handles import HANDLE, MAX_HANDLE
from liveshop.domain.money import InvalidPrice, format_price, parse_price
from liveshop.domain.plain_text import html_to_text, text_to_html

MAX_ROWS = 10_000
MAX_STOCK = 1_000_000_000
PRODUCT_URL_COLUMN = "Product URL (product.metafields.liveshop.product_url)"
CURRENCY_COLUMN = "Currency (product.metafields.liveshop.currency)"
REQUIRED_COLUMNS = ("Handle", "Title", "Variant Price")
EXPORT_COLUMNS = (
    "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Variant SKU", "Variant Inventory Tracker",
    "Variant Inventory Qty", "Variant Inventory Policy", "Variant Fulfillment Service",
    "Variant Price", "Variant Requires Shipping", "Variant Taxable", "Image Src",
    "Image Position", "Status", PRODUCT_URL_COLUMN, CURRENCY_COLUMN,
)  # fmt: skip
_VARIANT_COLUMNS = ("Variant Price", "Variant SKU", "Variant Inventory Qty", "Option1 Value")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WEB_URL = re.compile(
    r"^[hH][tT][tT][pP][sS]?://[^/\\\s\x00-\x1f\x7f-\x9f][^\\\s\x00-\x1f\x7f-\x9f]*$"
)
_SITE_PATH = re.compile(r"^/([^/\\\s\x00-\x1f\x7f-\x9f][^\\\s\x00-\x1f\x7f-\x9f]*)?$")


class UnreadableCsv(ValueError):
    """The bytes are not a CSV file liveshop can read (not UTF-8, no header row)."""


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: ``row`` as a spreadsheet numbers it (the header is row 1),
    ``column`` the column's header ("" for the whole row or file)."""

    row: int
    column: str
    message: str


@dataclass(frozen=True)
class ProductDraft:
    """One product of the file. ``None`` means "not in the file": an update keeps that field."""

    row: int
    handle: str
    name: str
    description: str
    price: Decimal
    stock: int
    sku: str
    variants: int
    archived: bool
    image_url: str | None = None
    currency: str | None = None
    product_url: str | None = None


@dataclass(frozen=True)
class ParsedCsv:
    products: list[ProductDraft]
    errors: list[RowError]
    rows: int  # data rows read


@dataclass
class _Group:
    row: int
    handle: str
    title_row: int | None = None
    title: str = ""
    body: str = ""
    status: str = ""
    currency: str | None = None
    product_url: str | None = None
    prices: list[Decimal] = field(default_factory=list)
    skus: list[tuple[int, str]] = field(default_factory=list)
    stock: int = 0
    variants: int = 0
    images: list[tuple[float, int, str]] = field(default_factory=list)  # (position, row, url)
    variant_images: list[str] = field(default_factory=list)
    broken: bool = False


def decode(data: bytes) -> str:
    """The file's text (UTF-8, with or without a byte-order mark); raise :class:`UnreadableCsv`."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableCsv(
            f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
        ) from None


def is_web_url(value: str) -> bool:
    """True for an absolute http(s) URL without spaces, backslashes or control characters."""
    return len(value) <= 2048 and bool(_WEB_URL.match(value))


def is_link(value: str) -> bool:
    """True for what a product's ``productUrl`` may be: empty, http(s), or a same-site path."""
    return (
        value == "" or is_web_url(value) or (len(value) <= 2048 and bool(_SITE_PATH.match(value)))
    )


def _one_line(value: str, limit: int) -> str | None:
    """The problem with ``value`` as one line of at most ``limit`` characters, or None."""
    if _CONTROLS.search(value):
        return "must be one line without control characters"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    return None


def _quantity(value: str) -> int:
    """Inventory as Shopify writes it ("12", or "12.0" from a spreadsheet); negative is 0."""
    number = Decimal(value)  # raises on text
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(value)
    return max(0, min(int(number), MAX_STOCK))


class _Reader:
    def __init__(self, shop_url: str) -> None:
        self.shop_url = shop_url.rstrip("/")
        self.errors: list[RowError] = []
        self.groups: dict[str, _Group] = {}

    def fail(self, row: int, column: str, message: str, group: _Group | None = None) -> None:
        self.errors.append(RowError(row, column, message))
        if group is not None:
            group.broken = True

    def read_row(self, row: int, cells: Mapping[str, str]) -> None:
        if not any(v.strip() for v in cells.values()):
            return  # a blank line
        raw_handle = cells.get("Handle", "").strip().lower()
        if not raw_handle:
            self.fail(row, "Handle", "is required on every row")
            return
        if len(raw_handle) > MAX_HANDLE or not re.fullmatch(HANDLE, raw_handle):
            self.fail(
                row,
                "Handle",
                "must be lowercase letters, digits and single hyphens, e.g. linen-shirt",
            )
            return
        group = self.groups.get(raw_handle)
        if group is None:
            group = self.groups[raw_handle] = _Group(row=row, handle=raw_handle)
        title = cells.get("Title", "").strip()
        if title:
            self.read_product(row, cells, group, title)
        elif group.title_row is None:
            self.fail(row, "Title", "is required on a product's first row", group)
        if any(cells.get(c, "").strip() for c in _VARIANT_COLUMNS):
            self.read_variant(row, cells, group)
        self.read_images(row, cells, group)

    def read_product(self, row: int, cells: Mapping[str, str], group: _Group, title: str) -> None:
        if group.title_row is not None:
            self.fail(
                row,
                "Handle",
                f"is already the handle of the product on row {group.title_row}",
                group,
            )
            return
        group.title_row, group.title = row, title
        problem = _one_line(title, 200)
        if problem:
            self.fail(row, "Title", problem, group)
        group.body = html_to_text(cells.get("Body (HTML)", ""))
        if len(group.body) > 5000:
            self.fail(row, "Body (HTML)", "is longer than 5000 characters as text", group)
        group.status = cells.get("Status", "").strip().lower()
        if group.status not in ("", "active", "draft", "archived"):
            self.fail(row, "Status", "must be active, draft or archived", group)
        if CURRENCY_COLUMN in cells:
            currency = cells[CURRENCY_COLUMN].strip().upper()
            if currency and not re.fullmatch(r"[A-Z]{3}", currency):
                self.fail(
                    row, CURRENCY_COLUMN, "must be a 3-letter currency code such as EUR", group
                )
            group.currency = currency or None
        if PRODUCT_URL_COLUMN in cells:
            url = cells[PRODUCT_URL_COLUMN].strip()
            if not is_link(url):
                self.fail(
                    row,
                    PRODUCT_URL_COLUMN,
                    "must be an http(s) URL or a path starting with /",
                    group,
                )
            group.product_url = url
        if group.product_url is None and self.shop_url:
            group.product_url = f"{self.shop_url}/products/{group.handle}"

    def read_variant(self, row: int, cells: Mapping[str, str], group: _Group) -> None:
        group.variants += 1
        price = cells.get("Variant Price", "").strip()
        if not price:
            self.fail(row, "Variant Price", "is required on every variant row", group)
        else:
            try:
                group.prices.append(parse_price(price))
            except InvalidPrice as exc:
                self.fail(row, "Variant Price", f"{exc} (got {price[:20]!r})", group)
        sku = cells.get("Variant SKU", "").strip()
        problem = _one_line(sku, 100)
        if problem:
            self.fail(row, "Variant SKU", problem, group)
        elif sku:
            group.skus.append((row, sku))
        qty = cells.get("Variant Inventory Qty", "").strip()
        if qty:
            try:
                group.stock = min(MAX_STOCK, group.stock + _quantity(qty))
            except (ArithmeticError, ValueError):
                self.fail(
                    row,
                    "Variant Inventory Qty",
                    f"must be a whole number (got {qty[:20]!r})",
                    group,
                )
        image = cells.get("Variant Image", "").strip()
        if image:
            if is_web_url(image):
                group.variant_images.append(image)
            else:
                self.fail(row, "Variant Image", "must be an http(s) URL", group)

    def read_images(self, row: int, cells: Mapping[str, str], group: _Group) -> None:
        src = cells.get("Image Src", "").strip()
        if not src:
            return
        if not is_web_url(src):
            self.fail(row, "Image Src", "must be an http(s) URL", group)
            return
        position = cells.get("Image Position", "").strip()
        order = float(position) if position.isdigit() else float("inf")
        group.images.append((order, row, src))

    def finish(self) -> list[ProductDraft]:
        products: list[ProductDraft] = []
        sku_rows: dict[str, int] = {}
        for group in self.groups.values():
            if group.title_row is not None and not group.variants:
                self.fail(
                    group.row, "Variant Price", "is required: the product has no variant row", group
                )
            for row, sku in group.skus[:1]:
                if sku in sku_rows:
                    self.fail(
                        row,
                        "Variant SKU",
                        f"{sku!r} is already the SKU of row {sku_rows[sku]}",
                        group,
                    )
                else:
                    sku_rows[sku] = row
            if group.broken or group.title_row is None or not group.prices:
                continue
            images = [url for _, _, url in sorted(group.images)] + group.variant_images
            products.append(
                ProductDraft(
                    row=group.title_row,
                    handle=group.handle,
                    name=group.title,
                    description=group.body,
                    price=min(group.prices),
                    stock=group.stock,
                    sku=group.skus[0][1] if group.skus else "",
                    variants=group.variants,
                    archived=group.status == "archived",
                    image_url=images[0] if images else None,
                    currency=group.currency,
                    product_url=group.product_url,
                )
            )
        return products


def parse(text: str, *, shop_url: str = "") -> ParsedCsv:
    """Read a Shopify product CSV. Every problem is a :class:`RowError` (the products that have
    one are left out of ``products``); nothing is raised for bad content. With ``shop_url``
    (e.g. ``https://shop.example``) a product without a Product URL column gets
    ``{shop_url}/products/{handle}``."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        return ParsedCsv([], [RowError(1, "", f"not a CSV file: {exc}")], 0)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        message = "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
        return ParsedCsv([], [RowError(1, "", f"{message}: is this a Shopify product CSV?")], 0)
    parsed = _Reader(shop_url)
    rows = 0
    try:
        for index, record in enumerate(reader):
            row = index + 2
            if rows >= MAX_ROWS:
                parsed.fail(row, "", f"the file has more than {MAX_ROWS} rows: split it")
                break
            rows += 1
            cells = {name: record[i] if i < len(record) else "" for i, name in enumerate(header)}
            parsed.read_row(row, cells)
    except csv.Error as exc:
        parsed.fail(rows + 2, "", f"cannot be read as CSV: {exc}")
    products = parsed.finish()
    return ParsedCsv(products, sorted(parsed.errors, key=lambda e: e.row), rows)


@dataclass(frozen=True)
class ExportProduct:
    handle: str
    name: str
    description: str
    price: Decimal
    currency: str
    stock: int
    sku: str
    image_url: str
    product_url: str


def _absolute(url: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}{url}" if url.startswith("/") else url


def export(products: Iterable[ExportProduct], *, base_url: str) -> str:
    """The products as a Shopify product CSV, one row each (a single "Default Title" variant),
    with pictures and same-site links made absolute with ``base_url``. :func:`parse` reads it
    back to the same products (``localize`` turns the pictures back into paths)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for p in products:
        writer.writerow(
            {
                "Handle": p.handle,
                "Title": p.name,
                "Body (HTML)": text_to_html(p.description),
                "Published": "TRUE",
                "Option1 Name": "Title",
                "Option1 Value": "Default Title",
                "Variant SKU": p.sku,
                "Variant Inventory Tracker": "shopify",
                "Variant Inventory Qty": str(p.stock),
                "Variant Inventory Policy": "deny",
                "Variant Fulfillment Service": "manual",
                "Variant Price": format_price(p.price),
                "Variant Requires Shipping": "TRUE",
                "Variant Taxable": "TRUE",
                "Image Src": _absolute(p.image_url, base_url),
                "Image Position": "1" if p.image_url else "",
                "Status": "active",
                PRODUCT_URL_COLUMN: p.product_url,
                CURRENCY_COLUMN: p.currency,
            }
        )
    return out.getvalue()


def localize(url: str, base_url: str) -> str:
    """``url`` as a same-site path when it points into ``base_url`` (what :func:`export` made
    absolute), else unchanged."""
    prefix = base_url.rstrip("/") + "/"
    return url[len(prefix) - 1 :] if url.startswith(prefix) else url
