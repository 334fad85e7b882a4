"""TURN REST API credentials: minted per caller, short-lived, never a static password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from liveshop.config import Settings
from tests.conftest import start_server, stop_server

SECRET = "turn-shared-secret-" + "k" * 24


@pytest.fixture
async def turn_client(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        turn_urls="turn:10.1.0.1:3478?transport=tcp, turns:turn.shop.test:443?transport=tcp",
        turn_secret=SECRET,
        turn_ttl_seconds=600,
    )
    srv, task, live = await start_server(settings)
    async with httpx.AsyncClient(base_url=live.url) as http:
        yield http
    await stop_server(srv, task)


def turn_entry(config: dict[str, Any]) -> dict[str, Any]:
    (entry,) = [s for s in config["iceServers"] if "credential" in s]
    return entry


async def test_config_mints_a_credential_coturn_can_verify(turn_client: httpx.AsyncClient) -> None:
    """/api/config's TURN entry is <expiry>:<user> with HMAC-SHA1(secret) as password."""
    guest = (await turn_client.post("/api/auth/guest", json={"name": "Ann"})).json()
    headers = {"Authorization": f"Bearer {guest['accessToken']}"}
    entry = turn_entry((await turn_client.get("/api/config", headers=headers)).json())
    expiry, user = entry["username"].split(":", 1)
    assert user == guest["user"]["id"]
    assert 590 <= int(expiry) - time.time() <= 601
    digest = hmac.new(SECRET.encode(), entry["username"].encode(), hashlib.sha1).digest()
    assert entry["credential"] == base64.b64encode(digest).decode()
    assert entry["urls"] == [
        "turn:10.1.0.1:3478?transport=tcp",
        "turns:turn.shop.test:443?transport=tcp",
    ]


async def test_each_user_gets_their_own_credential(turn_client: httpx.AsyncClient) -> None:
    """Two shoppers get different TURN usernames; an anonymous caller gets an address-keyed one."""
    names = set()
    for name in ("Ann", "Bob"):
        token = (await turn_client.post("/api/auth/guest", json={"name": name})).json()
        headers = {"Authorization": f"Bearer {token['accessToken']}"}
        names.add(
            turn_entry((await turn_client.get("/api/config", headers=headers)).json())[
                "username"
            ].split(":")[1]
        )
    anonymous = turn_entry((await turn_client.get("/api/config")).json())
    names.add(anonymous["username"].split(":")[1])
    assert len(names) == 3 and any(n.startswith("anon-") for n in names)


def test_static_turn_passwords_are_refused(make_settings: Callable[..., Settings]) -> None:
    """LIVESHOP_ICE_SERVERS with a username/credential is a configuration error."""
    with pytest.raises(ValueError, match="LIVESHOP_TURN_SECRET"):
        make_settings(
            ice_servers='[{"urls": "turn:t.example", "username": "u", "credential": "p"}]'
        )
