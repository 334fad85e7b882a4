"""A shop's own site for the embed tests: a second tiny HTTP server (another origin: another port
of the pages' host name) serving one page that embeds the liveshop player with its snippet and
records every message it receives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

# `take`: the page's cart takes Buy clicks (preventDefault on the snippet's event → ack)
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corner Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:0;background:#f6f1ea;color:#222}}
header{{padding:1rem 2rem;background:#2d2a26;color:#fff}}main{{display:grid;grid-template-columns:1fr 16rem;gap:1.5rem;padding:1.5rem 2rem}}
aside{{background:#fff;border-radius:12px;padding:1rem}}
@media (max-width:700px){{main{{grid-template-columns:1fr;padding:1rem}}}}</style></head>
<body><header><strong>Corner Shop</strong> — handmade goods</header>
<main><section><h1>Live from our workshop</h1>
{snippet}</section>
<aside><h2>Your cart</h2><ul id="cart"></ul></aside></main>
<script>
window.received = [];
window.addEventListener('message', (e) => window.received.push({{origin: e.origin, data: e.data}}));
window.addEventListener('liveshop:add-to-cart', (e) => {{
  if (!{take}) return;
  e.preventDefault();
  const li = document.createElement('li');
  li.textContent = e.detail.product.name + ' — ' + e.detail.product.price + ' ' + e.detail.product.currency;
  document.getElementById('cart').append(li);
}});
</script></body></html>"""


@dataclass
class HostPage:
    url: str  # the page's URL as the browser opens it
    origin: str
    take: bool
    liveshop: str = ""  # the liveshop server the snippet loads from (set once it runs)
    snippet: str = ""  # the line pasted into the page; the studio's default one when empty

    def body(self) -> bytes:
        take = "true" if self.take else "false"
        snippet = self.snippet or f'<script src="{self.liveshop}/static/embed.js" async></script>'
        return HOST_PAGE.format(snippet=snippet, take=take).encode()


async def _serve(
    page: HostPage, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    body = page.body()
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def host_page(bind: str, page_host: str, *, take: bool = True) -> AsyncIterator[HostPage]:
    """Serve the shop's page on ``bind`` (a free port); the browser reaches it as ``page_host``.
    Set ``liveshop`` on the answer before a browser loads the page."""
    page = HostPage(url="", origin="", take=take)
    server = await asyncio.start_server(lambda r, w: _serve(page, r, w), bind, 0)
    port = server.sockets[0].getsockname()[1]
    page.origin = f"http://{page_host}:{port}"
    page.url = page.origin + "/"
    try:
        yield page
    finally:
        server.close()
        await server.wait_closed()
