"""The route class of every REST router, and the ``Allow`` header of a 405.

FastAPI parses a JSON body before it runs the dependencies, so a request without a token but with a
malformed body would be answered 422 (or 400) instead of 401, telling an anonymous caller about the
body before refusing them. :class:`ApiRoute` gives the handler a request whose ``json()`` never
raises: a body that cannot be parsed comes back as an :class:`UnreadableBody`, the dependencies
(authentication, then the role) run first, and only then does the body's validation fail and
``api/errors.py`` answer what FastAPI would have: 422 ``json_invalid``, or 400 for a body that is not
UTF-8 (or nests too deep).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.types import Scope

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class UnreadableBody:
    """A request body that is not JSON; its error is raised once the dependencies have run."""

    def __init__(self, error: RequestValidationError | HTTPException) -> None:
        self.error = error


class _DeferredBodyRequest(Request):
    async def json(self) -> Any:
        try:
            return await super().json()
        except json.JSONDecodeError as exc:
            return UnreadableBody(
                RequestValidationError(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", exc.pos),
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": exc.msg},
                        }
                    ]
                )
            )
        except Exception:  # not UTF-8, nested too deep: what FastAPI answers with 400
            return UnreadableBody(HTTPException(400, "There was an error parsing the body"))


class ApiRoute(APIRoute):
    """Body errors after the dependencies: authentication and role are checked first."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def deferred_body(request: Request) -> Response:
            return await handler(_DeferredBodyRequest(request.scope, request.receive))

        return deferred_body


def unreadable_body(exc: RequestValidationError) -> RequestValidationError | HTTPException | None:
    """The parse error to answer when validation failed on a body that could not be read."""
    body = getattr(exc, "body", None)
    return body.error if isinstance(body, UnreadableBody) else None


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at this path (a 405's ``Allow``), not only the first
    route's: ``/api/products`` has GET and POST. Mounted apps (static files) answer their own."""
    routes = [route for route in app.router.routes if not isinstance(route, Mount)]
    allowed = []
    for method in HTTP_METHODS:
        # a fresh scope: matching leaves its marks in the scope it is given
        probe = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", "")}
        probe.update(method=method, headers=[], query_string=b"")
        if any(route.matches(probe)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed
