"""Planning a CSV import: update by handle, else by SKU, else create; never duplicate."""

from __future__ import annotations

from decimal import Decimal

from liveshop.domain.catalogue_import import Existing, plan
from liveshop.domain.shopify_csv import ProductDraft


def draft(handle: str, sku: str = "", row: int = 2, **fields: object) -> ProductDraft:
    values: dict[str, object] = {
        "row": row,
        "handle": handle,
        "name": handle.title(),
        "description": "",
        "price": Decimal("10.00"),
        "stock": 1,
        "sku": sku,
        "variants": 1,
        "archived": False,
    }
    values.update(fields)
    return ProductDraft(**values)  # type: ignore[arg-type]


def existing(id: int, handle: str, sku: str = "", **fields: object) -> Existing:
    values: dict[str, object] = {
        "id": id,
        "handle": handle,
        "sku": sku,
        "name": handle.title(),
        "description": "",
        "price": Decimal("10.00"),
        "currency": "EUR",
        "stock": 1,
        "image_url": "",
        "product_url": "",
    }
    values.update(fields)
    return Existing(**values)  # type: ignore[arg-type]


def test_handle_then_sku_then_create() -> None:
    """A draft updates the product with its handle, else the one with its SKU, else is new."""
    catalogue = [existing(1, "shirt"), existing(2, "made-in-studio", sku="TOTE-1")]
    result = plan(
        [draft("shirt", stock=5), draft("tote", sku="TOTE-1", row=3), draft("new", row=4)],
        catalogue,
    )
    assert result.errors == []
    assert [(i.action, i.product_id) for i in result.items] == [
        ("update", 1),
        ("update", 2),
        ("create", None),
    ]
    assert result.items[0].fields == {"stock": 5}
    assert result.items[1].fields["handle"] == "tote"  # the studio product takes the file's handle


def test_the_same_values_are_unchanged() -> None:
    """Importing what the catalogue already holds changes nothing."""
    result = plan([draft("shirt")], [existing(1, "shirt")])
    assert [(i.action, i.fields) for i in result.items] == [("unchanged", {})]


def test_updates_keep_the_currency_unless_the_file_has_one() -> None:
    """New products take the import's currency; updates keep theirs unless the file says."""
    result = plan([draft("shirt"), draft("new", row=3)], [existing(1, "shirt")], currency="SEK")
    assert "currency" not in result.items[0].fields
    assert result.items[1].fields["currency"] == "SEK"
    result = plan([draft("shirt", currency="USD")], [existing(1, "shirt")], currency="SEK")
    assert result.items[0].fields == {"currency": "USD"}


def test_a_sku_of_another_product_is_an_error() -> None:
    """A draft whose handle is one product's and SKU another's cannot be applied."""
    result = plan(
        [draft("shirt", sku="TOTE-1")], [existing(1, "shirt"), existing(2, "tote", sku="TOTE-1")]
    )
    assert result.items == []
    assert [(e.row, e.column) for e in result.errors] == [(2, "Variant SKU")]


def test_two_drafts_on_one_product_is_an_error() -> None:
    """Two rows landing on the same product (by handle and by SKU) are refused."""
    result = plan(
        [draft("tote", row=2), draft("other", sku="TOTE-1", row=5)],
        [existing(2, "tote", sku="TOTE-1")],
    )
    assert [(e.row, e.column) for e in result.errors] == [(5, "Handle")]


def test_archived_drafts_are_skipped_and_own_pictures_become_paths() -> None:
    """Archived products are skipped; a picture URL into this shop is stored as a path."""
    result = plan(
        [draft("gone", archived=True), draft("pic", image_url="http://shop.test/media/p.webp")],
        [],
        base_url="http://shop.test",
    )
    assert [i.action for i in result.items] == ["skip", "create"]
    assert result.items[1].fields["image_url"] == "/media/p.webp"
