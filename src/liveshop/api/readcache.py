"""Serve hot, read-mostly GETs (the active show, the catalogue) from memory, before routing.

A pure ASGI middleware: a hit answers from :class:`~liveshop.cache.ResponseCache` without entering
FastAPI's routing; a miss runs the route once (concurrent misses for the same URL wait for that one
fill) and keeps a 200 answer. Writers invalidate by group (``Announcer.invalidate``), in every
process through the broker.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveshop.cache import ResponseCache

# path → cache group
CACHEABLE: dict[str, str] = {
    "/api/livestreams/active": "livestreams",
    "/api/products": "products",
}


class ReadCacheMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inflight: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        group = CACHEABLE.get(scope.get("path", "")) if scope["type"] == "http" else None
        if group is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        cache: ResponseCache | None = getattr(scope["app"].state, "cache", None)
        if cache is None:
            await self.app(scope, receive, send)
            return
        key = (group, scope.get("query_string", b"").decode("latin-1"))
        body = cache.get(*key)
        if body is None and key in self._inflight:  # someone is filling it: wait, then retry
            await asyncio.shield(self._inflight[key])
            body = cache.get(*key)
        if body is not None:
            await _send_json(send, body)
            return
        fill: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fill
        generation = cache.generation(group)
        status = 0
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
            if status == 200:
                cache.put(group, key[1], b"".join(chunks), generation)
        finally:
            del self._inflight[key]
            fill.set_result(None)


async def _send_json(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
