"""Which sites may embed the player (``LIVESHOP_EMBED_ORIGINS``).

An origin is ``scheme://host[:port]``: http or https, no path, query, fragment or credentials,
never ``*`` (the embed posts its messages to these origins only, and a wildcard would hand a
shopper's cart clicks to any page). Compared lower-case, the default port dropped, as browsers
serialise ``event.origin`` and ``location.ancestorOrigins``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

EMBED_PREFIX = "/embed/"
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")  # a name or IPv4 address, no wildcard


def normalise_origin(value: str) -> str:
    """``value`` as a browser serialises an origin; ``ValueError`` when it is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"LIVESHOP_EMBED_ORIGINS: {value!r} is not an http(s) origin")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"LIVESHOP_EMBED_ORIGINS: {value!r} must be an origin only (scheme://host[:port])"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"LIVESHOP_EMBED_ORIGINS: {value!r} has a bad port") from exc
    host = parts.hostname
    if ":" not in host and not HOST.match(host):
        raise ValueError(f"LIVESHOP_EMBED_ORIGINS: {value!r} is not one host (no wildcards)")
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def parse_origins(value: str) -> list[str]:
    """Comma- or space-separated origins, normalised, duplicates once, in order."""
    out: list[str] = []
    for item in value.replace(",", " ").split():
        origin = normalise_origin(item)
        if origin not in out:
            out.append(origin)
    return out
