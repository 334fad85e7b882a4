"""Bad input: JSON errors, never a 500."""

from __future__ import annotations

import httpx
import pytest


async def test_malformed_json_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A body that is not JSON gets 422 with a detail."""
    r = await client.post(
        "/api/products", content=b'{"name": ', headers={**admin, "content-type": "application/json"}
    )
    assert r.status_code == 422 and "detail" in r.json()


async def test_body_over_one_mib_is_413(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A JSON body over 1 MiB is refused with 413 before parsing."""
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'", "price": "1.00"}'
    r = await client.post(
        "/api/products", content=big, headers={**admin, "content-type": "application/json"}
    )
    assert r.status_code == 413 and "detail" in r.json()


async def test_chunked_body_over_one_mib_is_413(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Without a Content-Length the limit still holds."""

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    r = await client.post(
        "/api/products", content=chunks(), headers={**admin, "content-type": "application/json"}
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "payload",
    [
        b'{"name": "a\\ud800b", "price": "1.00"}',
        b'{"name": "a\\u0000b", "price": "1.00"}',
        b'{"name": "ok", "price": "1.00", "description": "\\udfff"}',
        b'{"name": ["x"], "price": "1.00"}',
        b"[]",
        b"null",
        b'"string"',
        b'{"name": "ok", "price": {"a": 1}}',
    ],
)
async def test_hostile_bodies_get_422_not_500(
    client: httpx.AsyncClient, admin: dict[str, str], payload: bytes
) -> None:
    """Lone surrogates, NUL bytes and wrong shapes are 422 with a JSON detail."""
    r = await client.post(
        "/api/products", content=payload, headers={**admin, "content-type": "application/json"}
    )
    assert r.status_code == 422
    assert "detail" in r.json()


async def test_hostile_query_strings_do_not_500(client: httpx.AsyncClient) -> None:
    """Search with NUL, invalid UTF-8 percent-escapes, huge numbers: 4xx or 200, never 500."""
    for query in [
        "q=%00",
        "q=%ED%A0%80",
        "q=%FF%FE",
        "before=99999999999999999999",
        "limit=abc",
        "limit=0",
    ]:
        r = await client.get(f"/api/products?{query}")
        assert r.status_code < 500, (query, r.status_code)
        assert isinstance(r.json(), dict)


async def test_guest_name_with_surrogate_is_422(client: httpx.AsyncClient) -> None:
    """Names are checked like every other string."""
    r = await client.post(
        "/api/auth/guest",
        content=b'{"name": "\\ud83d"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    """Errors are JSON everywhere under /api."""
    r = await client.get("/api/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
