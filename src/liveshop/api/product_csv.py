"""``/api/products/import`` and ``/api/products/export.csv``: the catalogue as Shopify's product
CSV. Reading and planning are pure (``domain/shopify_csv.py``, ``domain/catalogue_import.py``);
an import writes in one transaction: every product of the file, or (any error) none.

``Image Src`` URLs are kept as the products' picture URLs, not fetched: the pictures stay where
the shop hosts them (upload one in the studio to have liveshop serve it in several sizes).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import Field

from liveshop.api.deps import ADMIN_ONLY, AdminDep, AnnouncerDep, DbDep
from liveshop.api.products import CACHE_GROUP, refresh_pins
from liveshop.api.routing import ApiRoute
from liveshop.domain import catalogue_import, shopify_csv
from liveshop.domain.money import format_price
from liveshop.protocol import Out
from liveshop.storage import products

router = APIRouter(prefix="/api/products", tags=["products"], route_class=ApiRoute)

MAX_CSV_BYTES = 15 * 1024 * 1024  # Shopify's own limit for a product CSV
CSV_TYPES = ("text/csv", "application/vnd.ms-excel", "text/plain")


class ImportRowOut(Out):
    row: int = Field(description="The product's first row in the file (the header is row 1)")
    handle: str
    name: str
    sku: str
    price: str
    stock: int
    variants: int
    action: Literal["create", "update", "unchanged", "skip"]
    product_id: int | None


class ImportErrorOut(Out):
    row: int
    column: str = Field(description='The column\'s header; "" for the whole row or file')
    message: str


class ImportReport(Out):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    products: list[ImportRowOut]
    errors: list[ImportErrorOut]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get(
    "/export.csv",
    response_class=Response,
    responses={
        **ADMIN_ONLY,
        200: {
            "description": "Every product as a Shopify product CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
)
async def export_csv(request: Request, _: AdminDep, db: DbDep) -> Response:
    """The catalogue in Shopify's product CSV format (UTF-8), one row per product, oldest first;
    importing it again changes nothing."""
    async with db.session() as session:
        rows = await products.for_export(session)
    body = shopify_csv.export(rows, base_url=_base_url(request))
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="products.csv"'},
    )


@router.post(
    "/import",
    response_model=ImportReport,
    responses={
        **ADMIN_ONLY,
        413: {"description": f"Over {MAX_CSV_BYTES // (1024 * 1024)} MB"},
        415: {"description": "Not sent as text/csv"},
        422: {
            "description": "Not a Shopify product CSV (not UTF-8, no Handle, Title or Variant "
            "Price column), or (not with dryRun) the file has errors: nothing was imported; "
            "`detail` lists them with `loc: ['body', row, column]`"
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string"}} for t in CSV_TYPES},
        }
    },
)
async def import_csv(
    request: Request,
    _: AdminDep,
    db: DbDep,
    announcer: AnnouncerDep,
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "USD",
    shop_url: Annotated[
        str, Query(alias="shopUrl", max_length=200, pattern=r"^(|https?://[A-Za-z0-9.:-]+)$")
    ] = "",
) -> Any:
    """Import a Shopify product CSV. Each product updates the product with its handle, else the one
    with its SKU, else is created (in ``currency`` unless the file has liveshop's currency
    column). ``dryRun=true`` writes nothing and answers what would happen with every error; without
    it, a file with any error answers 422 and writes nothing. A file that is not a Shopify product
    CSV at all (not UTF-8, or without the Handle, Title and Variant Price columns) is 422 either way. ``shopUrl`` (e.g.
    ``https://shop.example``) sets each product's link to ``{shopUrl}/products/{handle}``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        raise HTTPException(415, "send the file as text/csv")
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > MAX_CSV_BYTES:
            raise HTTPException(
                413, f"CSV files are limited to {MAX_CSV_BYTES // (1024 * 1024)} MB"
            )
    try:
        parsed = shopify_csv.parse(shopify_csv.decode(bytes(data)), shop_url=shop_url)
    except shopify_csv.UnreadableCsv as exc:
        parsed = shopify_csv.ParsedCsv([], [shopify_csv.RowError(1, "", str(exc))], 0)
    if not parsed.rows and parsed.errors:  # not a Shopify product CSV at all: nothing to preview
        raise HTTPException(422, [_error_detail(e) for e in parsed.errors])
    async with db.session() as session:
        existing = await products.catalogue_for_import(session)
        plan = catalogue_import.plan(
            parsed.products, existing, currency=currency, base_url=_base_url(request)
        )
        errors = sorted([*parsed.errors, *plan.errors], key=lambda e: e.row)
        if errors and not dry_run:
            raise HTTPException(422, [_error_detail(e) for e in errors])
        written = [] if dry_run else await products.apply_import(session, plan)
    ids = iter(p.id for p in written)
    report = ImportReport(
        dry_run=dry_run,
        rows=parsed.rows,
        created=plan.count("create"),
        updated=plan.count("update"),
        unchanged=plan.count("unchanged"),
        skipped=plan.count("skip"),
        products=[
            ImportRowOut(
                row=item.draft.row,
                handle=item.draft.handle,
                name=item.draft.name,
                sku=item.draft.sku,
                price=format_price(item.draft.price),
                stock=item.draft.stock,
                variants=item.draft.variants,
                action=item.action,
                product_id=next(ids)
                if not dry_run and item.action in ("create", "update")
                else item.product_id,
            )
            for item in plan.items
        ],
        errors=[ImportErrorOut(row=e.row, column=e.column, message=e.message) for e in errors],
    )
    if written:
        await announcer.invalidate(CACHE_GROUP)
        updated = [i.product_id for i in plan.items if i.action == "update" and i.product_id]
        await refresh_pins(db, announcer, updated)  # a live show's pinned products, as imported
    return report


def _error_detail(error: shopify_csv.RowError) -> dict[str, Any]:
    loc: list[str | int] = ["body", error.row]
    if error.column:
        loc.append(error.column)
    field = f"row {error.row}" + (f": {error.column}" if error.column else "")
    return {"loc": loc, "field": field, "msg": error.message, "type": "csv_row"}
