"""Where a product picture's sizes live: ``products/{key}-{width}.webp`` below the media directory,
``key`` being the upload's content hash (the names never point at other bytes: cached for good)."""

from __future__ import annotations

WIDTHS = (160, 480, 1024)
MAIN_WIDTH = 480  # the product's ``imageUrl``
DIRECTORY = "products"


def picture_path(key: str, width: int) -> str:
    """The file of one size, relative to the media directory."""
    return f"{DIRECTORY}/{key}-{width}.webp"


def picture_url(key: str, width: int) -> str:
    """The URL the media mount serves that file at."""
    return f"/media/{picture_path(key, width)}"
