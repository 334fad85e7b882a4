"""PostgreSQL restarts mid-show: REST says 503 + Retry-After, chat is refused (never acknowledged
and lost), live video keeps flowing, the recording is attached once the database is back.

The PostgreSQL here is a private cluster (``initdb`` + ``pg_ctl`` on a free port, tests/services.py)
that the test stops with a fast shutdown (open connections are cut, as in a restart or failover)
and starts again: the machine's PostgreSQL on 5432 is shared by every test running at the same
time and must not be restarted under them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import websockets

from liveshop.config import Settings
from liveshop.storage import chat
from liveshop.storage.migrate import upgrade
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    create_admin,
    in_thread,
    start_server,
    stop_server,
)
from tests.hub.conftest import Client
from tests.media.peers import TIMEOUT
from tests.services import PrivatePostgres, private_postgres
from tests.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        in_thread(lambda: asyncio.run(upgrade(pg.url)))
        yield pg


@pytest.fixture
async def live(
    postgres: PrivatePostgres, make_settings: Callable[..., Settings]
) -> AsyncIterator[LiveServer]:
    srv, task, server = await start_server(make_settings(database_url=postgres.url))
    try:
        yield server
    finally:
        await stop_server(srv, task)


async def _sdp(http: httpx.AsyncClient, url: str, sdp: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    return await http.post(url, content=sdp, headers=headers)


async def test_a_database_restart_mid_show(live: LiveServer, postgres: PrivatePostgres) -> None:
    """503 + Retry-After while down, chat refused as unavailable, video flows, pool recovers alone,
    and the recording made meanwhile is attached once the database is back."""
    from liveshop.media.synthetic import answer, offer, read_index
    from tests.api.test_media_http import publisher, viewer

    sockets: list[Client] = []
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        await create_admin(live)
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        admin = (await http.post("/api/auth/login", json=login)).json()["accessToken"]
        auth = {"Authorization": f"Bearer {admin}"}
        show = (await http.post("/api/livestreams", json={"title": "DB"}, headers=auth)).json()[
            "livestream"
        ]["id"]
        shopper = (await http.post("/api/auth/guest", json={"name": "S"})).json()["accessToken"]
        try:
            seller = Client(await websockets.connect(f"{live.ws_url}?token={admin}"))
            buyer = Client(await websockets.connect(f"{live.ws_url}?token={shopper}"))
            sockets += [seller, buyer]
            await seller.join(show)
            await buyer.join(show)
            pub = publisher()
            r = await _sdp(http, f"/api/livestreams/{show}/whip", await offer(pub), admin)
            assert r.status_code == 201, r.text
            await answer(pub, r.text)
            # WHEP is 409 "not live" until the publisher's connection is up
            await buyer.wait_type("webrtc_broadcast_start", timeout=TIMEOUT)
            pc, tracks = viewer()
            r = await _sdp(http, f"/api/livestreams/{show}/whep", await offer(pc), shopper)
            assert r.status_code == 201, r.text
            await answer(pc, r.text)
            video = await asyncio.wait_for(tracks["video"], TIMEOUT)
            await buyer.send(type="chat_send", text="before", clientMessageId="c0")
            await seller.wait_type("chat_message", text="before", timeout=TIMEOUT)

            postgres.stop()
            r = await http.get(f"/api/livestreams/{show}")
            assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
            r = await http.post(
                "/api/products", json={"name": "Hat", "price": "1.00"}, headers=auth
            )
            assert r.status_code == 503 and "detail" in r.json()
            health = (await http.get("/api/health")).json()
            assert health["database"] == "down" and health["status"] == "degraded"
            late = Client(await websockets.connect(f"{live.ws_url}?token={admin}"))
            sockets.append(late)  # an account's socket needs the database: told, then 1013
            assert (await late.wait_type("error", timeout=TIMEOUT))["code"] == "unavailable"
            assert (await asyncio.wait_for(late.closed, TIMEOUT))[0] == 1013
            await buyer.send(type="chat_send", text="in the outage", clientMessageId="c1")
            refused = await buyer.wait_type("error", ref="c1", timeout=TIMEOUT)
            assert refused["code"] == "unavailable" and refused["retryAfter"] > 0
            # live video does not need the database
            indices = [read_index(await asyncio.wait_for(video.recv(), TIMEOUT)) for _ in range(30)]
            assert indices == sorted(indices) and len(set(indices)) == 30
            # the publisher leaves while the database is down: its recording segment is finished
            await pub.close()
            await seller.wait_type("webrtc_broadcast_stop", timeout=TIMEOUT)

            postgres.start()
            # the pool reconnects by itself; nothing acknowledged was lost
            await until(
                lambda: _status(http, f"/api/livestreams/{show}", 200),
                timeout=20,
                message="REST to answer again",
            )
            await buyer.send(type="chat_send", text="in the outage", clientMessageId="c1")
            await seller.wait_type("chat_message", clientMessageId="c1", timeout=TIMEOUT)
            recordings = await until(
                lambda: _recordings(http, show), timeout=30, message="the recording attached"
            )
            assert recordings[0]["source"] == "server" and recordings[0]["durationSeconds"] > 1
            async with live.db.session() as session:
                stored = [m.client_message_id for m in await chat.recent(session, show, limit=10)]
            acknowledged = [e["clientMessageId"] for e in buyer.seen("chat_message")]
            assert stored == ["c0", "c1"] and set(acknowledged) <= set(stored)
            assert (await http.get("/api/health")).json()["database"] == "ok"
            await pc.close()
        finally:
            for s in sockets:
                await s.close()


async def _status(http: httpx.AsyncClient, url: str, status: int) -> bool:
    return (await http.get(url)).status_code == status


async def _recordings(http: httpx.AsyncClient, show: int) -> list[dict[str, object]]:
    r = await http.get(f"/api/livestreams/{show}/recordings")
    if r.status_code != 200:
        return []
    found: list[dict[str, object]] = r.json()["recordings"]
    return found
