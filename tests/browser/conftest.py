"""Browser fixtures: Debian's Chromium driven by Playwright (async), a real liveshop server per test,
and pages that fail the test on any uncaught page error or console error.

Media stays home (tests/medianet.py): Chromium runs inside a network namespace of the session's
own, so its ICE candidates are the namespace's far address (raw, not mDNS names); the servers
listen, and their aiortc peers gather, on the near address. Pages open
``http://shop.localhost:<port>``, which Chromium maps to the near address and, being a
``.localhost`` name, treats as a secure context (camera access)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.chromium_viewer import CHROMIUM_ARGS

from liveshop.config import Settings
from liveshop.media.netns import Namespace
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CI,
    LiveServer,
    create_admin,
    start_server,
    stop_server,
)
from tests.medianet import media_addresses, require_netns

CHROMIUM = Path(os.environ.get("LIVESHOP_CHROMIUM", "/usr/bin/chromium"))
# `make screenshots` (LIVESHOP_UPDATE_SCREENSHOTS=1) refreshes the ones kept in docs/; otherwise the
# tests still take them, into a scratch folder, so a test run leaves the tree as it was.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("LIVESHOP_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "liveshop-screenshots"
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Network answers the pages expect and handle (Chrome still logs them as console errors):
# - whep: 409 "not live" until the seller's WHIP connection is up (the page retries).
EXPECTED_HTTP_FAILURES = ("/whep",)
PAGE_HOST = "shop.localhost"


@pytest.fixture(scope="session")
def browser_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespace]:
    """The namespace Chromium runs in (one per session)."""
    require_netns()
    with Namespace() as ns:
        yield ns


@contextlib.asynccontextmanager
async def chromium_in(
    net: Namespace,
    tmp_path_factory: pytest.TempPathFactory,
    args: list[str],
    *,
    hide_local_ips: bool = False,
    page_address: str | None = None,
) -> AsyncIterator[Any]:
    """Debian's Chromium inside ``net`` (media never leaves the test's namespace), resolving
    the pages' host to the namespace's near address (or ``page_address``: the servers of another
    test namespace, which this side's addresses are reachable through); skipped (failed under CI)
    when missing.
    ``hide_local_ips``: keep Chromium's default of offering mDNS ``.local`` names instead of host
    addresses, as real users' browsers do (the aiortc tests' peers need raw addresses)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install Debian's chromium: `make chromium`)"
        if CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    from playwright.async_api import async_playwright

    # Playwright talks to Chromium over pipes, so a wrapper may start it inside the namespace
    wrapper = tmp_path_factory.mktemp("chromium") / "chromium"
    command = " ".join(net.command(str(CHROMIUM)))
    wrapper.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    wrapper.chmod(0o755)
    full_args = [*args, f"--host-resolver-rules=MAP {PAGE_HOST} {page_address or net.near}"]
    if not hide_local_ips:
        full_args.append("--disable-features=WebRtcHideLocalIpsWithMdns")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(wrapper), args=full_args)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture(scope="session")
async def browser(
    browser_net: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    async with chromium_in(browser_net, tmp_path_factory, list(CHROMIUM_ARGS)) as b:
        yield b


@dataclass
class PageErrors:
    """Everything that went wrong in the pages of one test; checked when the test ends."""

    errors: list[str] = field(default_factory=list)
    # URL parts whose failed loads a test provokes on purpose (see allow_http_failures)
    allowed_http_failures: list[str] = field(default_factory=list)

    def allow_http_failures(self, *parts: str) -> None:
        """Failed requests to URLs containing one of ``parts`` are expected in this test (Chrome
        logs every non-2xx answer and aborted request as a console error)."""
        self.allowed_http_failures.extend(parts)

    def watch(self, page: Any, name: str) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: pageerror: {exc}"))

        def on_console(msg: Any) -> None:
            print(f"[{name}] console.{msg.type}: {msg.text}")  # shown by pytest when a test fails
            if msg.type != "error":
                return
            url = (msg.location or {}).get("url", "")
            if msg.text.startswith("Failed to load resource") and any(
                part in url for part in (*EXPECTED_HTTP_FAILURES, *self.allowed_http_failures)
            ):
                return
            self.errors.append(f"{name}: console error: {msg.text} ({url})")

        page.on("console", on_console)


@pytest.fixture
async def page_errors() -> AsyncIterator[PageErrors]:
    errors = PageErrors()
    yield errors
    assert not errors.errors, "errors in the pages:\n" + "\n".join(errors.errors)


@pytest.fixture
async def open_page(browser: Any, page_errors: PageErrors) -> AsyncIterator[Callable[..., Any]]:
    """``await open_page(name, viewport=DESKTOP, **context_options)``: a page in its own context
    (own localStorage, like a separate person), watched for errors."""
    async with page_opener(browser, page_errors) as make:
        yield make


@contextlib.asynccontextmanager
async def page_opener(browser: Any, page_errors: PageErrors) -> AsyncIterator[Callable[..., Any]]:
    """What :func:`open_page` gives, for any ``browser``; the contexts close on exit."""
    contexts: list[Any] = []

    async def make(name: str, viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = await browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        page_errors.watch(page, name)
        context.on("page", lambda p: page_errors.watch(p, f"{name} (popup)"))
        return page

    yield make
    for context in contexts:
        await context.close()


@dataclass
class Shop:
    server: LiveServer
    http: httpx.AsyncClient
    admin: dict[str, str]
    products: list[dict[str, Any]]


@pytest.fixture
async def make_shop(
    make_settings: Callable[..., Settings], browser_net: Namespace
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_shop(media_mode, **settings)``: a real server (SQLite) with a seller and a small
    catalogue, on the browser namespace's near address (``shop.server.url`` is the pages' URL)."""
    running: list[tuple[Any, Any, httpx.AsyncClient]] = []

    async def make(media_mode: str, **overrides: Any) -> Shop:
        settings = make_settings(
            media_mode=media_mode, media_addresses=browser_net.near, **overrides
        )
        srv, task, live = await start_server(settings, host=browser_net.near)
        http = httpx.AsyncClient(base_url=live.url, timeout=30)
        live = dataclasses.replace(live, url=live.url.replace(browser_net.near, PAGE_HOST))
        running.append((srv, task, http))
        await create_admin(live)
        r = await http.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        admin = {"Authorization": f"Bearer {r.json()['accessToken']}"}
        products = []
        for body in (
            {"name": "Ceramic pour-over set", "price": "34.00", "currency": "EUR", "stock": 12},
            {"name": "Merino beanie", "price": "24.50", "currency": "USD", "stock": 0},
            {"name": "Canvas tote bag", "price": "18.00", "currency": "GBP", "stock": 40},
        ):
            slug = body["name"].lower().replace(" ", "-")
            body |= {
                "imageUrl": f"/static/demo/{slug}.svg",
                "productUrl": f"/static/buy.html?product={slug}",
            }
            r = await http.post("/api/products", json=body, headers=admin)
            assert r.status_code == 201, r.text
            products.append(r.json()["product"])
        return Shop(live, http, admin, products)

    with media_addresses(browser_net.near):  # the tests' own aiortc peers (stand-ins) too
        yield make
    for srv, task, http in running:
        await http.aclose()
        await stop_server(srv, task)
