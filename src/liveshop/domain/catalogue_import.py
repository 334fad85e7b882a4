"""What a CSV import does to the catalogue: each product of the file updates the live product with
its handle, or else the one with its SKU, or is created; nothing is duplicated. Pure planning:
storage reads the catalogue, this decides, storage writes the plan in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from liveshop.domain.shopify_csv import ProductDraft, RowError, localize

Action = Literal["create", "update", "unchanged", "skip"]


@dataclass(frozen=True)
class Existing:
    """A live product of the catalogue, as the plan compares it."""

    id: int
    handle: str
    sku: str
    name: str
    description: str
    price: Decimal
    currency: str
    stock: int
    image_url: str
    product_url: str


@dataclass(frozen=True)
class Planned:
    draft: ProductDraft
    action: Action
    product_id: int | None  # the product updated (None for create and skip)
    fields: dict[str, object]  # the values written (every field for create, the changes for update)


@dataclass(frozen=True)
class Plan:
    items: list[Planned]
    errors: list[RowError]

    def count(self, action: Action) -> int:
        return sum(1 for item in self.items if item.action == action)


def _wanted(draft: ProductDraft, currency: str, base_url: str) -> dict[str, object]:
    fields: dict[str, object] = {
        "handle": draft.handle,
        "name": draft.name,
        "description": draft.description,
        "price": draft.price,
        "stock": draft.stock,
        "sku": draft.sku,
        "currency": draft.currency or currency,
    }
    if draft.image_url is not None:
        fields["image_url"] = localize(draft.image_url, base_url)
    if draft.product_url is not None:
        fields["product_url"] = draft.product_url
    return fields


def plan(
    drafts: Sequence[ProductDraft],
    catalogue: Sequence[Existing],
    *,
    currency: str = "USD",
    base_url: str = "",
) -> Plan:
    """Match each draft to the catalogue: by handle, else by its SKU, else it is created (in
    ``currency`` unless the file says; an update keeps the product's currency then). Archived
    drafts are skipped. A draft whose SKU belongs to another product than its handle's, or that
    lands on a product another row already updates, is an error. ``base_url``: pictures pointing
    into this shop are kept as paths."""
    by_handle = {p.handle: p for p in catalogue if p.handle}
    by_sku = {p.sku: p for p in catalogue if p.sku}
    items: list[Planned] = []
    errors: list[RowError] = []
    claimed: dict[int, int] = {}  # product id → row of the draft that updates it
    for draft in drafts:
        if draft.archived:
            items.append(Planned(draft, "skip", None, {}))
            continue
        match = by_handle.get(draft.handle) or (by_sku.get(draft.sku) if draft.sku else None)
        owner = by_sku.get(draft.sku) if draft.sku else None
        if owner is not None and match is not None and owner.id != match.id:
            errors.append(
                RowError(
                    draft.row,
                    "Variant SKU",
                    f"{draft.sku!r} is the SKU of another product ({owner.handle!r})",
                )
            )
            continue
        wanted = _wanted(draft, currency, base_url)
        if match is None:
            items.append(Planned(draft, "create", None, wanted))
            continue
        if match.id in claimed:
            errors.append(
                RowError(
                    draft.row,
                    "Handle",
                    f"updates the same product as row {claimed[match.id]} (by its SKU)",
                )
            )
            continue
        claimed[match.id] = draft.row
        if draft.currency is None:
            wanted.pop("currency")
        changes = {k: v for k, v in wanted.items() if getattr(match, k) != v}
        items.append(Planned(draft, "update" if changes else "unchanged", match.id, changes))
    return Plan(items, errors)
