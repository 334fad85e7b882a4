"""The bare reference (run as ``python -m bench._bare_api``): a plain Starlette app on the same
uvicorn configuration as liveshop, answering fixed JSON bytes at the benchmarked paths.

``--route PATH=FILE`` (repeatable) serves the bytes of FILE at PATH with ``application/json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build_app(bodies: dict[str, bytes]) -> Starlette:
    """One route per path, each returning its bytes unchanged."""

    def endpoint_for(body: bytes) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return Response(body, media_type="application/json")

        return endpoint

    routes = [Route(path, endpoint_for(body), methods=["GET"]) for path, body in bodies.items()]
    return Starlette(routes=routes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bare Starlette reference server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--route", action="append", default=[], metavar="PATH=FILE")
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    bodies: dict[str, bytes] = {}
    for spec in args.route:
        path, _, file = spec.partition("=")
        bodies[path] = Path(file).read_bytes()
    uvicorn.run(
        build_app(bodies),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=args.access_log,
        loop="auto",
        http="auto",
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
