"""Product handles: Shopify's URL slug of a product ("linen-summer-shirt"), its key in CSV files."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

MAX_HANDLE = 255
HANDLE = r"^[a-z0-9]+(-[a-z0-9]+)*$"


def slugify(text: str) -> str:
    """A handle made from ``text``: ASCII lowercase letters and digits joined by single hyphens
    (accents dropped, everything else a separator), at most 200 characters; "product" when
    nothing is left. Always matches :data:`HANDLE`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:200].strip("-")
    return slug or "product"


def unique_handle(name: str, taken: Container[str]) -> str:
    """:func:`slugify` of ``name``, with ``-2``, ``-3``… appended until it is not in ``taken``."""
    base = slugify(name)
    handle, n = base, 1
    while handle in taken:
        n += 1
        handle = f"{base}-{n}"
    return handle
