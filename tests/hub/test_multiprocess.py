"""Two ``liveshop serve`` processes on one PostgreSQL and one Redis behave as one service."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import (
    PG_HOST,
    PG_PORT,
    REDIS_HOST,
    REDIS_PORT,
    _truncate_pg,
    require,
)
from tests.hub.conftest import Client
from tests.processes import Proc, seller_token, serve

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(pg_migrated: str, tmp_path: Path) -> Iterator[list[Proc]]:
    """Two server processes sharing the test database and a private Redis prefix."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    require("PostgreSQL", PG_HOST, PG_PORT)
    from tests.conftest import in_thread

    in_thread(lambda: asyncio.run(_truncate_pg(pg_migrated)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    env.update(
        LIVESHOP_DATABASE_URL=pg_migrated,
        LIVESHOP_REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        LIVESHOP_REDIS_PREFIX=f"mp{uuid.uuid4().hex[:8]}:",
        LIVESHOP_SECRET_KEY="multi-process-test-secret-" + "k" * 32,
        LIVESHOP_ENV="test",
    )
    with serve(env, tmp_path) as procs:
        yield procs


async def _connect(proc: Proc, token: str) -> Client:
    return Client(await websockets.connect(f"{proc.ws}?token={token}"))


async def test_two_processes_share_chat_likes_and_viewers(
    cluster: list[Proc], pg_migrated: str
) -> None:
    """Chat crosses processes, likes and viewers are totals, and a killed process's viewers leave."""
    a, b = cluster
    clients: list[Client] = []
    async with httpx.AsyncClient(timeout=30) as http:
        admin = await seller_token(pg_migrated, a.url, http)
        r = await http.post(
            f"{a.url}/api/livestreams",
            json={"title": "Two"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        show = r.json()["livestream"]["id"]

        async def guest(proc: Proc, name: str) -> Client:
            token = (await http.post(f"{proc.url}/api/auth/guest", json={"name": name})).json()[
                "accessToken"
            ]
            client = await _connect(proc, token)
            clients.append(client)
            await client.join(show)
            return client

        try:
            seller = await _connect(a, admin)
            clients.append(seller)
            await seller.join(show)
            va = await guest(a, "OnA")
            vb1, vb2 = await guest(b, "OnB1"), await guest(b, "OnB2")
            await seller.wait_type("viewer_count", count=3, timeout=10)

            await va.ws.send(
                '{"type": "chat_send", "text": "' + "x" * 20_000 + '"}'
            )  # serve's ws settings
            assert (await va.wait_type("error"))["code"] == "too_large"
            await vb1.send(type="chat_send", text="from b", clientMessageId="x")
            assert (await va.wait_type("chat_message"))["text"] == "from b"
            await va.send(type="chat_send", text="from a")
            assert (await vb2.wait_type("chat_message", text="from a"))["user"]["name"] == "OnA"

            await va.send(type="like_toggle")
            await va.wait_type("like_state")
            await vb1.send(type="like_toggle")
            assert (await vb1.wait_type("like_state"))["likes"] == 2
            await vb2.wait_type("likes_update", likes=2)

            a_pins = await http.post(
                f"{a.url}/api/products",
                json={"name": "Hat", "price": "3.00"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            await http.post(
                f"{a.url}/api/livestreams/{show}/pin-product",
                json={"productId": a_pins.json()["product"]["id"]},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert (await vb1.wait_type("pinned_products_update"))["pinnedProducts"][0][
                "name"
            ] == "Hat"

            b.popen.send_signal(signal.SIGKILL)
            b.popen.wait(10)
            started = time.monotonic()
            await seller.wait_type("viewer_count", count=1, timeout=15)
            assert time.monotonic() - started < 15
            await va.send(type="ping")
            await va.wait_type("pong")
            assert (await http.get(f"{a.url}/api/livestreams/{show}")).json()["livestream"][
                "peakViewers"
            ] == 3
        finally:
            for c in clients:
                await c.close()
