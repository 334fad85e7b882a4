"""LIVESHOP_EMBED_ORIGINS (embedding.py): exact origins, as browsers write them; no wildcard."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from liveshop.config import Settings
from liveshop.embedding import parse_origins


def test_origins_are_normalised_like_browsers_write_them() -> None:
    """Lower-case host, default port dropped, other ports kept, duplicates once."""
    assert parse_origins(
        "HTTPS://Shop.Example:443/, http://shop.test:8080 https://shop.example"
    ) == [
        "https://shop.example",
        "http://shop.test:8080",
    ]


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://*.shop.example",
        "shop.example",
        "ftp://shop.example",
        "https://shop.example/cart",
        "https://u@shop.example",
    ],
)
def test_anything_but_an_origin_is_refused(value: str) -> None:
    """A wildcard, a bare host, another scheme, a path or credentials refuse to start."""
    with pytest.raises(ValidationError):
        Settings(embed_origins=value)


def test_empty_means_no_site() -> None:
    """Unset: no site may embed the player."""
    assert Settings(embed_origins="").embed_origin_list == []
