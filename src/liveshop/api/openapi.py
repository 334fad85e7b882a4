"""``/openapi.json`` states every answer an operation can give.

Each route documents its own answers (``responses=`` next to the handler). The answers that come
from the machinery every route shares are added here, in one place, so that no route can forget one:

* a JSON body: 400 (not UTF-8, or nested too deep to parse), 413 (over 1 MiB, ``api/limits.py``) and
  422 (not JSON, or invalid);
* a path with an id: 404 (the id is a number no row has; an id that is not a number matches no route);
* the ``bearer`` scheme (``api/deps.py``): 401 with ``WWW-Authenticate``;
* 429: ``Retry-After``;
* 503 with ``Retry-After`` on every operation: the database is unreachable for now (restart,
  failover; ``storage.errors.Unavailable``);
* every error's body: ``{detail}``, a message or a list of ``{loc, field, msg, type}``;
* links from the answers that name a show or a product to the operations on it (stateful clients,
  and schemathesis's stateful phase, follow them).

``schemathesis run --checks all`` holds the server to this document (docs/protocol.md, "Contract").
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from liveshop.api.limits import JSON_BODY_LIMIT

JSON = "application/json"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
            ]
        }
    },
}
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "field": {"type": "string", "description": "`loc` without `body`, joined with dots"},
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
}
SHARED: dict[str, dict[str, Any]] = {
    "400": {"description": "The body could not be read: not UTF-8, or nested too deep"},
    "413": {"description": f"JSON body over {JSON_BODY_LIMIT} bytes"},
    "422": {"description": "Validation error"},
    "404": {"description": "No such resource"},
    "401": {"description": "No valid token (missing, malformed, expired or revoked)"},
    "503": {"description": "The database is unavailable for now (restart, failover): retry"},
}
CHALLENGE = {
    "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
}
RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
HEADERS: dict[str, dict[str, Any]] = {"429": RETRY_AFTER, "503": RETRY_AFTER}


def _complete(operation: dict[str, Any], path: str) -> None:
    responses: dict[str, Any] = operation["responses"]
    needed = ["503"]
    if JSON in operation.get("requestBody", {}).get("content", {}):
        needed += ["400", "413", "422"]
    if "{" in path:
        needed.append("404")
    secured = bool(operation.get("security")) and {} not in operation["security"]
    if secured:
        needed.append("401")
    for status in needed:
        responses.setdefault(status, dict(SHARED[status]))
    if secured:  # a log-in's own 401 (bad password) is not a bearer challenge
        responses["401"].setdefault("headers", {}).update(CHALLENGE)
    for status, response in responses.items():
        if status in HEADERS:
            response.setdefault("headers", {}).update(HEADERS[status])
        if status[0] in "45" and "content" not in response:
            response["content"] = {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}


# (operation that answers with a resource, its status, where the id is) → the path parameter it fills
LINK_SOURCES = [
    ("/api/livestreams", "post", "201", "$response.body#/livestream/id", "livestream_id"),
    ("/api/products", "post", "201", "$response.body#/product/id", "product_id"),
]


def _add_links(paths: dict[str, Any]) -> None:
    for source, method, status, expression, parameter in LINK_SOURCES:
        links = paths[source][method]["responses"][status].setdefault("links", {})
        for path, item in paths.items():
            if "{" + parameter + "}" not in path:
                continue
            for target_method, operation in item.items():
                others = {
                    p["name"]
                    for p in operation.get("parameters", [])
                    if p["in"] == "path" and p["name"] != parameter
                }
                if others:  # the link cannot fill them
                    continue
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {parameter: expression},
                    "description": f"{target_method.upper()} {path} on the created resource",
                }


def build(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for ``app``, completed with what every route shares."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    components["ValidationError"] = VALIDATION_ERROR_SCHEMA
    for path, item in schema["paths"].items():
        for operation in item.values():
            _complete(operation, path)
    _add_links(schema["paths"])
    return schema


def install(app: FastAPI) -> None:
    """Serve :func:`build`'s document at ``/openapi.json`` (made once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
