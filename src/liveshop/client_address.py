"""The client address of a request or WebSocket: the one place the rest of the code asks.

Proxy headers are trusted only from the proxies named in ``LIVESHOP_FORWARDED_ALLOW_IPS``
(addresses or networks, comma-separated; ``*`` trusts everyone, for a Unix socket behind a proxy).
The app applies that trust itself (:func:`trust_proxies`, outermost in ``app.py``), so the answer
is the same under ``liveshop serve``, ``--workers N`` and the tests' in-process server, and
uvicorn's own ``proxy_headers`` stays off. From a trusted proxy, ``X-Forwarded-For`` (the
right-most address that is not itself a trusted proxy) and ``X-Forwarded-Proto`` replace the
connection's address and scheme; from anyone else both headers are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

UNKNOWN = "unknown"


def client_address(conn: HTTPConnection | Mapping[str, Any]) -> str:
    """The client's address (``"203.0.113.7"``, ``"2001:db8::1"``) of a request, a WebSocket or
    an ASGI scope; ``"unknown"`` when the server has none (a Unix socket with no trusted proxy)."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    client = scope.get("client")
    if not client or not client[0]:
        return UNKNOWN
    return str(client[0])


def parse_allow_ips(value: str) -> list[str]:
    """``LIVESHOP_FORWARDED_ALLOW_IPS`` as a list; raises ValueError on an entry that is neither an
    IP address, a network (``10.0.0.0/8``) nor ``*``."""
    entries = [item.strip() for item in value.split(",") if item.strip()]
    for entry in entries:
        if entry == "*":
            continue
        try:
            if "/" in entry:
                ipaddress.ip_network(entry)
            else:
                ipaddress.ip_address(entry)
        except ValueError:
            raise ValueError(
                f"LIVESHOP_FORWARDED_ALLOW_IPS: {entry!r} is not an IP address, a network or *"
            ) from None
    return entries


def trust_proxies(app: ASGIApp, allow_ips: str) -> ASGIApp:
    """``app`` behind uvicorn's proxy-header handling for the proxies in ``allow_ips``; ``app``
    itself (headers ignored) when none is named."""
    entries = parse_allow_ips(allow_ips)
    if not entries:
        return app
    trusted: list[str] | str = "*" if "*" in entries else entries
    return ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type,return-value]
