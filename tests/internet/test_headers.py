"""Security headers on every page and a sample of API routes; pages carry no inline script."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from liveshop.config import Settings
from tests.conftest import LiveServer, start_server, stop_server

STATIC = Path(__file__).resolve().parents[2] / "src" / "liveshop" / "static"
PAGES = [
    "/",
    "/live/1",
    "/replays",
    "/replays/1",
    "/studio",
    "/docs",
    "/static/buy.html",
    "/embed/live",
    "/embed/1",
]
PUBLIC_API = [
    "/api/health",
    "/api/config",
    "/api/products",
    "/api/livestreams/active",
    "/api/livestreams/999",
    "/openapi.json",
    "/static/js/watch.js",
    "/docs/assets/swagger-ui-bundle.js",
]


def assert_common(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["x-frame-options"] == "DENY"
    assert "server" not in r.headers, r.headers.get("server")


async def test_pages_and_public_api_answers_carry_the_security_headers(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    """Every page and public API answer has CSP, nosniff, referrer policy, and no server banner."""
    for path in PAGES + PUBLIC_API:
        r = await client.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert_common(r)


async def test_authenticated_answers_are_not_stored(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Answers to requests with a token, and log-in answers, carry Cache-Control: no-store."""
    for path in ("/api/auth/me", "/api/products", "/api/livestreams/active"):
        r = await client.get(path, headers=admin)
        assert r.status_code == 200
        assert_common(r)
        assert r.headers["cache-control"] == "no-store", path
    guest = await client.post("/api/auth/guest", json={"name": "Ann"})
    assert guest.headers["cache-control"] == "no-store"
    bad = await client.get("/api/auth/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["cache-control"] == "no-store"


@pytest.fixture
async def embeddable(make_settings: Callable[..., Settings]) -> AsyncIterator[str]:
    srv, task, live = await start_server(
        make_settings(frame_ancestors="https://blog.example https://partner.example")
    )
    yield live.url
    await stop_server(srv, task)


async def test_configured_embedding_replaces_frame_ancestors_none(embeddable: str) -> None:
    """LIVESHOP_FRAME_ANCESTORS names the sites that may frame the pages (and drops X-Frame-Options)."""
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{embeddable}/live/1")
    assert (
        "frame-ancestors https://blog.example https://partner.example"
        in (r.headers["content-security-policy"])
    )
    assert "x-frame-options" not in r.headers


@pytest.fixture
async def shop_embeds(make_settings: Callable[..., Settings]) -> AsyncIterator[str]:
    srv, task, live = await start_server(
        make_settings(embed_origins="https://shop.example:443, http://shop.test:8080")
    )
    yield live.url
    await stop_server(srv, task)


async def test_embed_origins_frame_the_embed_pages_only(shop_embeds: str) -> None:
    """LIVESHOP_EMBED_ORIGINS may frame /embed/… only (the player and a clip's page); every other
    page, the clip's own page included, keeps refusing frames."""
    async with httpx.AsyncClient() as http:
        for path in ("/embed/live", "/embed/7", "/embed/clips/3"):
            r = await http.get(f"{shop_embeds}{path}")
            assert r.status_code == 200
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors https://shop.example http://shop.test:8080" in csp, csp
            assert "x-frame-options" not in r.headers
        for path in ("/", "/live/7", "/studio", "/replays", "/clips/3", "/api/config"):
            assert_common(await http.get(f"{shop_embeds}{path}"))
        config = (await http.get(f"{shop_embeds}/api/config")).json()
    assert config["embedOrigins"] == ["https://shop.example", "http://shop.test:8080"]


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        self.problems += [f"{tag} {n}=" for n in names if n.startswith("on")]
        self.problems += [
            f"{tag} {n}=javascript:" for n, v in attrs if v and re.match(r"\s*javascript:", v)
        ]


def test_static_pages_have_no_inline_script_or_handlers() -> None:
    """No page in static/ has an inline script, an on* handler or a javascript: URL."""
    for page in sorted(STATIC.glob("*.html")):
        parser = _Scripts()
        parser.feed(page.read_text())
        assert parser.problems == [], (page.name, parser.problems)
