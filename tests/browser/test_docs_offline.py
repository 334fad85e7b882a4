"""/docs: Swagger UI from the server's own files, under the pages' CSP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.browser.conftest import Shop


async def test_docs_load_with_no_request_leaving_the_machine(
    make_shop: Callable[..., Any], open_page: Callable[..., Any]
) -> None:
    """/docs renders the API's operations, and every request it makes goes to this server."""
    shop: Shop = await make_shop("sfu")
    server = shop.server
    page = await open_page("docs")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(f"{server.url}/docs")
    await page.locator(".opblock").first.wait_for()
    assert await page.locator(".opblock").count() > 10
    assert requests and all(url.startswith(server.url) for url in requests), requests
