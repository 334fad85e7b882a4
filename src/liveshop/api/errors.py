"""Every error is JSON ``{detail}``; nothing a client sends makes the server answer 500."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from liveshop.api.routing import allowed_methods, unreadable_body
from liveshop.storage.errors import Conflict, NotFound, Unavailable

log = logging.getLogger(__name__)


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so text with lone surrogates can still be echoed safely."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=str).encode("ascii")


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p != "body"] or list(err.get("loc", ()))
        out.append(
            {
                "loc": list(err.get("loc", ())),
                "field": ".".join(str(p) for p in loc),
                "msg": str(err.get("msg", "invalid")).removeprefix("Value error, "),
                "type": err.get("type", "value_error"),
            }
        )
    return out


def install(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = exc.headers
        allowed = allowed_methods(app, request.scope) if exc.status_code == 405 else []
        if allowed:  # the router names only the first route's methods
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return SafeJSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        unreadable = unreadable_body(exc)  # api/routing.py: reported after authentication
        if isinstance(unreadable, StarletteHTTPException):
            return await http_error(request, unreadable)
        errors = (unreadable or exc).errors()
        return SafeJSONResponse({"detail": _clean_errors(errors)}, 422)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> Response:
        return SafeJSONResponse({"detail": str(exc) or "Not found"}, 404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> Response:
        return SafeJSONResponse({"detail": str(exc) or "Conflict"}, 409)

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> Response:
        log.warning("answered 503: %s", exc)
        return SafeJSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            503,
            headers={"Retry-After": str(Unavailable.retry_after)},
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return SafeJSONResponse({"detail": "Internal server error"}, 500)
