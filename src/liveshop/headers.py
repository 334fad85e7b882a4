"""Security headers on every HTTP answer (pages, API, files).

- ``Content-Security-Policy``: scripts only from this origin (``script-src 'self'``: the pages have
  no inline script or event handler), connections (fetch, ``/ws``) to this origin, images from
  anywhere (product pictures live on other sites), no plugins, no ``<base>`` tricks, and
  ``frame-ancestors 'none'`` unless ``LIVESHOP_FRAME_ANCESTORS`` names the sites that may embed
  the pages (then no ``X-Frame-Options``, which cannot express a list). The embeddable player
  (``/embed/…``) instead names ``LIVESHOP_EMBED_ORIGINS`` (the shop sites allowed to embed it),
  ``'none'`` when that is empty; every other page keeps its own rule.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin``,
  ``Permissions-Policy`` (camera and microphone for this origin only).
- ``Cache-Control: no-store`` on every answer to a request that carries credentials (an
  ``Authorization`` header) and on ``/api/auth/*`` (tokens in the body).
- ``Strict-Transport-Security`` when the request came over HTTPS (directly or, per
  ``LIVESHOP_FORWARDED_ALLOW_IPS``, through a trusted proxy).

uvicorn's ``server`` banner is switched off where the server is configured (``app.UVICORN_OPTIONS``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveshop.embedding import EMBED_PREFIX

HSTS = "max-age=31536000"
NO_STORE_PREFIXES = ("/api/auth/", "/metrics")


def content_security_policy(frame_ancestors: str = "") -> str:
    ancestors = " ".join(frame_ancestors.replace(",", " ").split()) or "'none'"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # style="" attributes in the markup (they cannot run script)
            "style-src-attr 'unsafe-inline'",
            "img-src * data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every HTTP response start.

    On the read cache's hot path: the headers are encoded once, and a response's own headers
    (ASGI: lower-case bytes) are scanned once per response."""

    def __init__(self, app: ASGIApp, *, frame_ancestors: str = "", embed_origins: str = "") -> None:
        self.app = app
        self.fixed = self._encoded(frame_ancestors)
        self.embed = self._encoded(embed_origins)

    @staticmethod
    def _encoded(frame_ancestors: str) -> list[tuple[bytes, bytes]]:
        fixed = [
            ("content-security-policy", content_security_policy(frame_ancestors)),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
            ("permissions-policy", "camera=(self), microphone=(self), geolocation=()"),
            ("cross-origin-opener-policy", "same-origin"),
        ]
        if not frame_ancestors.strip():
            fixed.append(("x-frame-options", "DENY"))
        return [(k.encode(), v.encode()) for k, v in fixed]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        private = path.startswith(NO_STORE_PREFIXES) or any(
            name == b"authorization" for name, _ in scope.get("headers", ())
        )
        https = scope.get("scheme") == "https"
        fixed = self.embed if path.startswith(EMBED_PREFIX) else self.fixed

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in fixed if h[0] not in present)
                if private:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                if https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
