"""Moderation over REST (issue 14): chat rules, bans, the moderator team, stream keys, figures
a seller can trust, and names that cannot pass for staff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets

from liveshop.config import Settings
from tests.conftest import LiveServer, create_admin, start_server, stop_server
from tests.waiting import until

SDP_HEADERS = {"Content-Type": "application/sdp"}


async def add_moderator(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    body = {"email": "mod@example.com", "name": "Mia", "password": "moderator password"}
    r = await client.post("/api/staff", json=body, headers=admin)
    assert r.status_code == 201, r.text
    login = await client.post(
        "/api/auth/login", json={"email": body["email"], "password": body["password"]}
    )
    return {"id": r.json()["id"], "token": login.json()["accessToken"]}


async def test_seller_sets_chat_rules_moderators_read_them(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The seller replaces blocked words and the links rule; a moderator may read, not change."""
    body = {"blockedWords": ["spam", " spam ", "scam"], "allowLinks": True}
    r = await client.put("/api/moderation", json=body, headers=admin)
    assert r.json() == {"blockedWords": ["spam", "scam"], "allowLinks": True}
    mod = await add_moderator(client, admin)
    mod_headers = {"Authorization": f"Bearer {mod['token']}"}
    assert (await client.get("/api/moderation", headers=mod_headers)).json()["allowLinks"]
    assert (await client.put("/api/moderation", json=body, headers=mod_headers)).status_code == 403


async def test_blocked_words_reach_the_hub(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str], server: LiveServer
) -> None:
    """A shopper's message with a blocked word is refused to the sender as ``blocked``."""
    await client.put("/api/moderation", json={"blockedWords": ["spam"]}, headers=admin)
    show = (await client.post("/api/livestreams", json={"title": "S"}, headers=admin)).json()
    token = guest["Authorization"].split()[1]
    async with websockets.connect(f"{server.ws_url}?token={token}") as ws:
        await ws.send(f'{{"type": "join", "livestreamId": {show["livestream"]["id"]}}}')
        await ws.recv()
        await ws.send('{"type": "chat_send", "text": "buy S P A M", "clientMessageId": "x"}')
        while '"ref":"x"' not in (answer := str(await asyncio.wait_for(ws.recv(), 5))):
            pass
        assert '"code":"blocked"' in answer


async def test_bans_are_listed_and_lifted_over_rest(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str], server: LiveServer
) -> None:
    """A ban made on the socket shows in the list; DELETE lifts it; an unknown one is 404."""
    show = (await client.post("/api/livestreams", json={"title": "S"}, headers=admin)).json()
    show_id = show["livestream"]["id"]
    seller = admin["Authorization"].split()[1]
    me = (await client.get("/api/auth/me", headers=guest)).json()["user"]["id"]
    async with websockets.connect(f"{server.ws_url}?token={seller}") as ws:
        await ws.send(f'{{"type": "join", "livestreamId": {show_id}}}')
        await ws.recv()
        await ws.send(f'{{"type": "user_ban", "userId": "{me}"}}')

        async def listed() -> bool:
            r = await client.get(f"/api/livestreams/{show_id}/bans", headers=admin)
            return [b["userId"] for b in r.json()["bans"]] == [me]

        await until(listed, timeout=5, message="the ban to be stored")
    assert (
        await client.delete(f"/api/livestreams/{show_id}/bans/{me}", headers=admin)
    ).status_code == 204
    assert (
        await client.delete(f"/api/livestreams/{show_id}/bans/{me}", headers=admin)
    ).status_code == 404
    assert (await client.get(f"/api/livestreams/{show_id}/bans", headers=guest)).status_code == 403


async def test_removing_a_moderator_ends_their_tokens(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Deleting a moderator (or making them a customer) refuses their token at once."""
    mod = await add_moderator(client, admin)
    headers = {"Authorization": f"Bearer {mod['token']}"}
    assert (await client.get("/api/moderation", headers=headers)).status_code == 200
    listed = (await client.get("/api/staff", headers=admin)).json()["staff"]
    assert {m["role"] for m in listed} == {"admin", "moderator"}
    assert (await client.delete(f"/api/staff/{mod['id']}", headers=admin)).status_code == 204
    assert (await client.get("/api/moderation", headers=headers)).status_code == 401


async def test_moderators_cannot_manage_the_team_or_products(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A moderator's token is refused for seller-only routes."""
    mod = await add_moderator(client, admin)
    headers = {"Authorization": f"Bearer {mod['token']}"}
    assert (await client.get("/api/staff", headers=headers)).status_code == 403
    r = await client.post("/api/products", json={"name": "X", "price": "1.00"}, headers=headers)
    assert r.status_code == 403


async def test_stream_key_publishes_and_does_nothing_else(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A stream key passes WHIP's authentication (the bad SDP is what fails) but no other route;
    rotating replaces it and revoking ends it."""
    await client.post("/api/livestreams", json={"title": "S"}, headers=admin)
    key = (await client.post("/api/stream-key", headers=admin)).json()["key"]
    assert key.startswith("sk_")
    with_key = {"Authorization": f"Bearer {key}", **SDP_HEADERS}
    r = await client.post("/api/whip", content=b"not sdp", headers=with_key)
    assert r.status_code not in (401, 403), r.text
    assert (await client.get("/api/auth/me", headers=with_key)).status_code == 401
    assert (await client.get("/api/stream-key", headers=admin)).json() == {
        "hint": key[-4:],
        "key": None,
    }
    new_key = (await client.post("/api/stream-key", headers=admin)).json()["key"]
    assert (await client.post("/api/whip", content=b"x", headers=with_key)).status_code == 401
    await client.delete("/api/stream-key", headers=admin)
    new_headers = {"Authorization": f"Bearer {new_key}", **SDP_HEADERS}
    assert (await client.post("/api/whip", content=b"x", headers=new_headers)).status_code == 401


@pytest.mark.parametrize("name", ["Shop Admin", "The Seller", "moderator"])
async def test_guest_names_cannot_pass_for_staff(client: httpx.AsyncClient, name: str) -> None:
    """Reserved names are refused (422) for guests and registrations."""
    assert (await client.post("/api/auth/guest", json={"name": name})).status_code == 422
    body = {"email": "x@example.com", "password": "long enough", "name": name}
    assert (await client.post("/api/auth/register", json=body)).status_code == 422


@pytest.fixture
async def trusting(make_settings: Callable[..., Settings]) -> AsyncIterator[LiveServer]:
    """A server that counts clicks only from identities that watched 0.5 s."""
    srv, task, live = await start_server(make_settings(trusted_after_seconds=0.5))
    yield live
    await stop_server(srv, task)


async def test_buy_clicks_count_only_from_identities_that_watched(trusting: LiveServer) -> None:
    """A click from a token that never watched is not counted; once it has watched it is, and
    the report counts the watcher's address once."""
    async with httpx.AsyncClient(base_url=trusting.url, timeout=30) as client:
        await create_admin(trusting)
        login = await client.post(
            "/api/auth/login",
            json={"email": "seller@example.com", "password": "correct horse battery"},
        )
        admin = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        product = (
            await client.post("/api/products", json={"name": "M", "price": "2.00"}, headers=admin)
        ).json()
        show = (await client.post("/api/livestreams", json={"title": "S"}, headers=admin)).json()
        show_id, product_id = show["livestream"]["id"], product["product"]["id"]
        token = (await client.post("/api/auth/guest")).json()["accessToken"]
        shopper = {"Authorization": f"Bearer {token}"}
        click = f"/api/livestreams/{show_id}/product-clicks"
        r = await client.post(click, json={"productId": product_id}, headers=shopper)
        assert r.json() == {"counted": False}
        async with websockets.connect(f"{trusting.ws_url}?token={token}") as ws:
            await ws.send(f'{{"type": "join", "livestreamId": {show_id}}}')
            await ws.recv()

            async def counted() -> bool:
                r = await client.post(click, json={"productId": product_id}, headers=shopper)
                return bool(r.json()["counted"])

            await until(counted, timeout=10, interval=0.25, message="the click to count")
        report = (await client.get(f"/api/livestreams/{show_id}/report", headers=admin)).json()
        assert report["uniqueAddresses"] == 1
