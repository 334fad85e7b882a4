"""Product handles made from names."""

from __future__ import annotations

import re

from liveshop.domain.handles import HANDLE, slugify, unique_handle


def test_slugify_gives_a_valid_handle() -> None:
    """Accents dropped, separators folded, nothing left gives "product"."""
    assert slugify("  Crème Brûlée — 2 pots! ") == "creme-brulee-2-pots"
    assert slugify("日本") == "product"
    assert re.fullmatch(HANDLE, slugify("a" * 300 + "-b"))


def test_unique_handle_counts_up() -> None:
    """A taken handle gets -2, -3…"""
    assert unique_handle("Tote", {"tote", "tote-2"}) == "tote-3"
