"""Product pictures on disk (liveshop.pictures), without a server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from liveshop.pictures import BadPicture, store


def test_a_huge_declared_size_is_refused_before_decoding(tmp_path: Path) -> None:
    """A PNG declaring 20000×20000 pixels (a bomb Pillow itself refuses) says so, writes nothing."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    assert len(out.getvalue()) < 1_000_000  # small on the wire
    with pytest.raises(BadPicture, match="megapixels"):
        store(out.getvalue(), tmp_path)
    assert not list(tmp_path.rglob("*.webp"))


def test_narrow_pictures_are_not_enlarged(tmp_path: Path) -> None:
    """A 300 px wide picture stays 300 px in the sizes wider than it; transparency is kept."""
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 0, 0)).save(out, "PNG")
    picture = store(out.getvalue(), tmp_path)
    widths = {}
    for width in (160, 480, 1024):
        with Image.open(tmp_path / picture.path(width)) as image:
            widths[width] = image.width
            assert image.mode == "RGBA"
    assert widths == {160: 160, 480: 300, 1024: 300}
