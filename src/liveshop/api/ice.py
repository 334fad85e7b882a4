"""The ICE servers handed to one caller (``/api/config``, WHIP/WHEP ``Link`` headers): the static
STUN servers plus, with ``LIVESHOP_TURN_URLS`` and ``LIVESHOP_TURN_SECRET``, a TURN credential
minted for the caller (see ``turn.py``). A caller with a valid bearer token gets one in its user
id's name; an anonymous one in the name of a hash of its client address."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request

from liveshop.api.deps import bearer_token
from liveshop.client_address import client_address
from liveshop.config import Settings
from liveshop.security import InvalidToken, TokenService
from liveshop.turn import IceServers, link_headers


def _user(request: Request) -> str:
    token = bearer_token(request)
    if token is not None:
        tokens: TokenService = request.app.state.tokens
        try:
            return tokens.verify(token).id
        except InvalidToken:
            pass
    address = client_address(request).encode()
    return "anon-" + hashlib.sha256(address).hexdigest()[:16]


def ice_servers_for(request: Request) -> list[dict[str, Any]]:
    """The ICE server list for the caller of ``request``."""
    settings: Settings = request.app.state.settings
    servers = IceServers(
        static=tuple(settings.ice_server_list),
        turn_urls=tuple(settings.turn_url_list),
        turn_secret=settings.turn_secret,
        turn_ttl_seconds=settings.turn_ttl_seconds,
    )
    return servers.for_user(_user(request))


def ice_links_for(request: Request) -> list[str]:
    """The same list as RFC 9725 ``Link`` header values."""
    return link_headers(ice_servers_for(request))
