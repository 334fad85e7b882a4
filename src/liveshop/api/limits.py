"""Request body limit for JSON routes: bodies over 1 MiB get 413 before the app reads them."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_BODY_LIMIT = 1024 * 1024
DRAIN_LIMIT = 16 * 1024 * 1024

# Routes with their own, larger limits (media uploads, SDP).
_EXEMPT_SUFFIXES = ("/upload", "/thumbnail", "/whip", "/whep", "/picture", "/products/import")
_EXEMPT_PARTS = ("/recording/chunks/",)


def _exempt(path: str) -> bool:
    return path.endswith(_EXEMPT_SUFFIXES) or any(p in path for p in _EXEMPT_PARTS)


class BodyLimitMiddleware:
    """Pure ASGI middleware. Buffers at most ``limit`` bytes of an ``/api`` request body; beyond it
    answers 413 ``{detail}`` without calling the app."""

    def __init__(self, app: ASGIApp, limit: int = JSON_BODY_LIMIT) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/api")
            or _exempt(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        has_body = False
        for name, value in scope.get("headers", ()):
            if name == b"transfer-encoding":
                has_body = True
            elif name == b"content-length":
                has_body = True
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._reject(send)
                    return
        if not has_body:  # GETs and other bodiless requests go straight through
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            more = message.get("more_body", False)
            if size > self.limit:
                # Read (and drop) a bounded remainder so the client sees the answer, not a reset.
                while more and size < DRAIN_LIMIT:
                    message = await receive()
                    size += len(message.get("body", b""))
                    more = message.get("more_body", False) and message["type"] == "http.request"
                await self._reject(send)
                return
            chunks.append(body)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        payload = json.dumps({"detail": f"Request body over {self.limit} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
