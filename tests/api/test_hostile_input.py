"""Hostile input found by an abuse review (issue 14): each answers a clear 4xx, never a 500, and
no answer reveals a server path. Runs on SQLite and PostgreSQL (ids overflow differently)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_product

HUGE = "1000000000000000000000000000000"
PAST_INT32 = str(2**31)

PUBLIC_ROUTES = [
    "/api/livestreams/{id}",
    "/api/products/{id}",
    "/api/livestreams/{id}/chat",
    "/api/livestreams/{id}/timeline",
    "/api/livestreams/{id}/recordings",
]
ADMIN_ROUTES = [
    ("GET", "/api/livestreams/{id}/report"),
    ("GET", "/api/livestreams/{id}/stats"),
    ("POST", "/api/livestreams/{id}/stop"),
    ("DELETE", "/api/products/{id}"),
    ("DELETE", "/api/livestreams/{id}/pin-product/{id}"),
]


@pytest.mark.parametrize("number", [HUGE, PAST_INT32])
@pytest.mark.parametrize("route", PUBLIC_ROUTES)
async def test_ids_past_the_integer_range_are_422_on_public_routes(
    client: httpx.AsyncClient, route: str, number: str
) -> None:
    """A path id no row can have is refused with a JSON 422, not a 500 or a dropped connection."""
    r = await client.get(route.format(id=number))
    assert r.status_code == 422, r.text
    assert "detail" in r.json()


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES)
async def test_ids_past_the_integer_range_are_422_on_seller_routes(
    client: httpx.AsyncClient, admin: dict[str, str], method: str, route: str
) -> None:
    """The same holds for the seller's routes."""
    r = await client.request(method, route.format(id=HUGE), headers=admin)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("number", [int(HUGE), int(PAST_INT32)])
async def test_body_ids_past_the_integer_range_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str], number: int
) -> None:
    """A product id in a JSON body (pin, Buy click, planned products) no row can have is 422."""
    r = await client.post("/api/livestreams", json={"title": "Show"}, headers=admin)
    show = r.json()["livestream"]["id"]
    requests = [
        ("POST", f"/api/livestreams/{show}/pin-product", {"productId": number}, admin),
        ("POST", f"/api/livestreams/{show}/product-clicks", {"productId": number}, guest),
        ("PUT", f"/api/livestreams/{show}/planned-products", {"productIds": [number]}, admin),
    ]
    for method, path, body, headers in requests:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 422, (path, r.text)


@pytest.mark.parametrize("query", [f"before={HUGE}", f"before={PAST_INT32}"])
async def test_cursor_past_the_integer_range_is_422(client: httpx.AsyncClient, query: str) -> None:
    """``?before=`` out of range is refused, on both paginated lists."""
    for path in ("/api/products", "/api/livestreams"):
        r = await client.get(f"{path}?{query}")
        assert r.status_code == 422, (path, r.text)


async def test_chat_cursor_past_64_bits_is_422(client: httpx.AsyncClient) -> None:
    """``?after=`` past the chat id range is refused."""
    r = await client.get(f"/api/livestreams/1/chat?after={HUGE}")
    assert r.status_code == 422


@pytest.mark.parametrize(
    "url",
    ["/\\evil.example/", "\\\\evil.example", "//evil.example/x", "https:\\\\evil.example", "/a\\b"],
)
async def test_product_url_refuses_scheme_relative_and_backslash_forms(
    client: httpx.AsyncClient, admin: dict[str, str], url: str
) -> None:
    """A Buy link must stay on an http(s) URL or this site: ``/\\\\x`` is another site in browsers."""
    r = await client.post(
        "/api/products", json={"name": "Mug", "price": "5.00", "productUrl": url}, headers=admin
    )
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("url", ["https://shop.example/p/1", "/products/mug", "/"])
async def test_product_url_accepts_http_urls_and_same_site_paths(
    client: httpx.AsyncClient, admin: dict[str, str], url: str
) -> None:
    """The valid forms stay accepted."""
    product = await make_product(client, admin, productUrl=url)
    assert product["productUrl"] == url


async def test_bad_upload_answer_names_no_server_path(
    client: httpx.AsyncClient, admin: dict[str, str], server: object
) -> None:
    """A recording PyAV cannot read is 415 with a message that contains no file path."""
    r = await client.post("/api/livestreams", json={"title": "Show"}, headers=admin)
    show = r.json()["livestream"]["id"]
    junk = b"\x1a\x45\xdf\xa3" + b"\x00garbage" * 64  # WebM magic, then nothing readable
    r = await client.post(
        f"/api/livestreams/{show}/upload",
        files={"video": ("x.webm", junk, "video/webm")},
        headers=admin,
    )
    assert r.status_code == 415, r.text
    detail = r.json()["detail"]
    media_dir = str(server.settings.effective_media_dir)  # type: ignore[attr-defined]
    assert media_dir not in detail and ".upload" not in detail, detail
