"""Security headers on every HTTP answer (pages, API, files).

- ``Content-Security-Policy``: scripts only from this origin (``script-src 'self'``: the pages have
  no inline script or event handler), connections (fetch, ``/ws``) to this origin, images from
  anywhere (product pictures live on other sites), no plugins, no ``<base>`` tricks, and
  ``frame-ancestors 'none'`` unless ``LIVESHOP_FRAME_ANCESTORS`` names the sites that may embed
  the pages (then no ``X-Frame-Options``, which cannot express a list).
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin``,
  ``Permissions-Policy`` (camera and microphone for this origin only).
- ``Cache-Control: no-store`` on every answer to a request that carries credentials (an
  ``Authorization`` header) and on ``/api/auth/*`` (tokens in the body).
- ``Strict-Transport-Security`` when the request came over HTTPS (directly or, per
  ``LIVESHOP_FORWARDED_ALLOW_IPS``, through a trusted proxy).

uvicorn's ``server`` banner is switched off where the server is configured (``app.UVICORN_OPTIONS``).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Pure ASGI middleware adding the headers above to every HTTP response start."""

    def __init__(self, app: ASGIApp, *, frame_ancestors: str = "") -> None:
        self.app = app
        self.fixed: list[tuple[str, str]] = [
            ("Content-Security-Policy", content_security_policy(frame_ancestors)),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        if not frame_ancestors.strip():
            self.fixed.append(("X-Frame-Options", "DENY"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        private = path.startswith(NO_STORE_PREFIXES) or any(
            name == b"authorization" for name, _ in scope.get("headers", ())
        )
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.fixed:
                    if name not in headers:
                        headers[name] = value
                if private:
                    headers["Cache-Control"] = "no-store"
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
