"""Product pictures: PUT /api/products/{id}/picture, and how the sizes are served."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.conftest import make_product


def jpeg_with_exif(width: int = 1600, height: int = 1200) -> bytes:
    image = Image.new("RGB", (width, height), (200, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_picture_is_stored_in_sizes_without_exif(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """An upload becomes WebP 160/480/1024 wide, upright, without EXIF, cached for good."""
    p = await make_product(client, admin)
    r = await client.put(
        f"/api/products/{p['id']}/picture",
        content=jpeg_with_exif(),
        headers={**admin, "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 200, r.text
    out = r.json()["product"]
    assert [i["width"] for i in out["images"]] == [160, 480, 1024]
    assert out["imageUrl"] == out["images"][1]["url"]
    for image in out["images"]:
        got = await client.get(image["url"])
        assert got.status_code == 200
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        with Image.open(io.BytesIO(got.content)) as pic:
            assert pic.format == "WEBP"
            # 1600×1200 with orientation 6 is 1200×1600 upright
            assert pic.width == image["width"] and pic.height == round(image["width"] * 4 / 3)
            assert "exif" not in pic.info and not pic.getexif()
        assert b"SecretCam" not in got.content


async def test_same_picture_twice_gives_the_same_names(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Names are the content's hash: the same bytes give the same URLs."""
    a, b = await make_product(client, admin, name="A"), await make_product(client, admin, name="B")
    data = jpeg_with_exif(400, 300)
    urls = []
    for p in (a, b):
        r = await client.put(
            f"/api/products/{p['id']}/picture",
            content=data,
            headers={**admin, "Content-Type": "image/jpeg"},
        )
        urls.append(r.json()["product"]["imageUrl"])
    assert urls[0] == urls[1]


async def test_setting_an_image_url_drops_the_uploaded_sizes(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A new imageUrl replaces the uploaded picture, its sizes included."""
    p = await make_product(client, admin)
    await client.put(
        f"/api/products/{p['id']}/picture",
        content=jpeg_with_exif(300, 300),
        headers={**admin, "Content-Type": "image/jpeg"},
    )
    r = await client.patch(
        f"/api/products/{p['id']}", json={"imageUrl": "https://cdn.example/x.jpg"}, headers=admin
    )
    assert r.json()["product"]["images"] == []


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"MZ\x90\x00 not a picture", "image/jpeg", 422, "not a picture"),
        (b"%PDF-1.4", "application/pdf", 415, "image/jpeg"),
        (png(9000, 9000), "image/png", 422, "megapixels"),  # a decompression bomb: 81 MP
        (png(8, 8), "image/png", 422, "too small"),
        (jpeg_with_exif(400, 400)[:300], "image/jpeg", 422, "cannot be read"),
        (jpeg_with_exif(400, 400)[:-400], "image/jpeg", 422, "cannot be decoded"),
        (b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024), "image/jpeg", 413, "10 MB"),
    ],
    ids=["not-an-image", "wrong-type", "bomb", "tiny", "header-cut", "data-cut", "oversized"],
)
async def test_bad_uploads_are_refused_with_a_clear_message(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    body: bytes,
    content_type: str,
    status: int,
    says: str,
) -> None:
    """Non-images, bombs, tiny and oversized files get a JSON 4xx saying why."""
    p = await make_product(client, admin)
    r = await client.put(
        f"/api/products/{p['id']}/picture",
        content=body,
        headers={**admin, "Content-Type": content_type},
    )
    assert r.status_code == status
    detail = r.json()["detail"]
    message = detail if isinstance(detail, str) else detail[0]["msg"]
    assert says in message
    assert (await client.get(f"/api/products/{p['id']}")).json()["product"]["images"] == []


async def test_picture_needs_the_seller(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str]
) -> None:
    """Shoppers cannot change pictures; an unknown product is 404."""
    p = await make_product(client, admin)
    headers = {"Content-Type": "image/png"}
    url = f"/api/products/{p['id']}/picture"
    assert (await client.put(url, content=png(20, 20), headers=headers)).status_code == 401
    assert (
        await client.put(url, content=png(20, 20), headers={**guest, **headers})
    ).status_code == 403
    r = await client.put(
        "/api/products/99999/picture", content=png(20, 20), headers={**admin, **headers}
    )
    assert r.status_code == 404
