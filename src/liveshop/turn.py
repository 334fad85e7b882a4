"""TURN credentials for browsers: coturn's TURN REST API shared secret (``use-auth-secret``).

With ``LIVESHOP_TURN_URLS`` and ``LIVESHOP_TURN_SECRET`` set, every ICE server list handed out
(``/api/config``, the WHIP/WHEP ``Link`` headers) carries a credential minted for the asking user,
valid for ``LIVESHOP_TURN_TTL_SECONDS``: username ``<expiry unix time>:<user id>``, password
``base64(HMAC-SHA1(secret, username))``, which coturn recomputes from the same secret and refuses
once the expiry has passed. No long-lived TURN password ever reaches a browser:
``LIVESHOP_ICE_SERVERS`` takes only servers without credentials (STUN).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


def mint(secret: str, user: str, ttl_seconds: int, now: float | None = None) -> TurnCredential:
    """A TURN REST API credential for ``user`` (any string without ``:``), valid ``ttl_seconds``."""
    expires_at = int(now if now is not None else time.time()) + ttl_seconds
    username = f"{expires_at}:{user.replace(':', '_')}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode(), expires_at)


@dataclass(frozen=True)
class IceServers:
    """The ICE servers given to clients: the static ones (no credentials) plus, when configured,
    the TURN servers with a credential minted per user."""

    static: tuple[dict[str, Any], ...]
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl_seconds: int = 3600

    def for_user(self, user: str, now: float | None = None) -> list[dict[str, Any]]:
        servers = [dict(server) for server in self.static]
        if self.turn_urls and self.turn_secret:
            cred = mint(self.turn_secret, user, self.turn_ttl_seconds, now)
            servers.append(
                {
                    "urls": list(self.turn_urls),
                    "username": cred.username,
                    "credential": cred.credential,
                }
            )
        return servers


def link_headers(servers: list[dict[str, Any]]) -> list[str]:
    """RFC 9725 §4.6: ICE servers as ``Link`` header values (``rel="ice-server"``)."""
    links = []
    for server in servers:
        urls = server.get("urls", [])
        for url in [urls] if isinstance(urls, str) else urls:
            link = f'<{url}>; rel="ice-server"'
            if server.get("username"):
                link += f'; username="{server["username"]}"; credential="{server.get("credential", "")}"'
                link += '; credential-type="password"'
            links.append(link)
    return links
