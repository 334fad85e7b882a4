"""Redis restarts mid-show under two ``liveshop serve`` processes: the show rides through.

The Redis here is a private ``redis-server`` (no persistence, so a restart forgets every key, as a
restarted cache does) on a free port, started and restarted by the test (tests/services.py): the
machine's Redis on 6379 is shared with every other test running at the same time and must not be
restarted under them. The database is the shared PostgreSQL test database (not restarted here).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import PG_HOST, PG_PORT, _truncate_pg, in_thread, require
from tests.hub.conftest import Client
from tests.processes import Proc, seller_token, serve
from tests.services import PrivateRedis, RedisGate, private_redis
from tests.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path / "redis") as redis:
        yield redis


def _pair_env(pg_migrated: str, redis_server: PrivateRedis) -> dict[str, str]:
    """The environment of two server processes on the emptied test database and the private
    Redis, under a prefix of their own."""
    require("PostgreSQL", PG_HOST, PG_PORT)
    in_thread(lambda: asyncio.run(_truncate_pg(pg_migrated)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    env.update(
        LIVESHOP_DATABASE_URL=pg_migrated,
        LIVESHOP_REDIS_URL=redis_server.url,
        LIVESHOP_REDIS_PREFIX=f"rr{uuid.uuid4().hex[:8]}:",
        LIVESHOP_SECRET_KEY="redis-restart-test-secret-" + "k" * 32,
        LIVESHOP_ENV="test",
    )
    return env


@pytest.fixture
def pair(pg_migrated: str, redis_server: PrivateRedis, tmp_path: Path) -> Iterator[list[Proc]]:
    """Two server processes sharing the test database and the private Redis."""
    env = _pair_env(pg_migrated, redis_server)
    with serve(env, tmp_path) as procs:
        yield procs


async def _health(http: httpx.AsyncClient, proc: Proc) -> dict[str, object]:
    r = await http.get(f"{proc.url}/api/health")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_a_redis_restart_loses_no_chat_and_counts_recover(
    pair: list[Proc], redis_server: PrivateRedis, pg_migrated: str
) -> None:
    """While Redis restarts, each process serves its sockets; afterwards missed chat arrives and
    viewer counts are right within 10 s."""
    a, b = pair
    clients: list[Client] = []
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=30) as http:
        admin = await seller_token(pg_migrated, a.url, http)
        show = await _start_show(http, a, admin, "Through a Redis restart")

        snapshots: dict[Client, dict[str, object]] = {}

        async def connect(proc: Proc, token: str) -> Client:
            client = Client(await websockets.connect(f"{proc.ws}?token={token}"))
            clients.append(client)
            snapshots[client] = await client.join(show)
            return client

        async def guest(proc: Proc, name: str) -> Client:
            r = await http.post(f"{proc.url}/api/auth/guest", json={"name": name})
            statuses.append(r.status_code)
            return await connect(proc, r.json()["accessToken"])

        try:
            seller = await connect(a, admin)
            va, vb = await guest(a, "OnA"), await guest(b, "OnB")
            await seller.wait_type("viewer_count", count=2, timeout=10)

            redis_server.stop()
            for proc in (a, b):
                await until(
                    lambda proc=proc: _health_is(http, proc, "degraded"),
                    timeout=10,
                    message="health to say broker: degraded",
                )
            # each process keeps serving its own sockets: chat is stored and acknowledged
            await va.send(type="chat_send", text="sent on A in the outage", clientMessageId="a1")
            await va.wait_type("chat_message", clientMessageId="a1")
            await vb.send(type="chat_send", text="sent on B in the outage", clientMessageId="b1")
            await vb.wait_type("chat_message", clientMessageId="b1")
            late = await guest(b, "JoinedOnBInTheOutage")  # a guest token: quotas fall back
            for proc in (a, b):
                r = await http.get(f"{proc.url}/api/livestreams/{show}")
                statuses.append(r.status_code)

            redis_server.start()
            back = time.monotonic()
            # what each process's shoppers missed is read from the database and passed on
            await vb.wait_type("chat_message", text="sent on A in the outage", timeout=10)
            await va.wait_type("chat_message", text="sent on B in the outage", timeout=10)
            # the late joiner had A's message in its snapshot (stored before it joined): not twice
            recent = snapshots[late]["recentChat"]
            assert isinstance(recent, list)
            assert "sent on A in the outage" in [m["text"] for m in recent]
            # presence republished: the seller on A counts the shopper who joined B meanwhile
            await seller.wait_type("viewer_count", count=3, timeout=10)
            assert time.monotonic() - back <= 10
            for proc in (a, b):
                assert (await _health(http, proc))["broker"] == "redis"
            # and live chat crosses the processes again
            await vb.send(type="chat_send", text="after", clientMessageId="b2")
            await va.wait_type("chat_message", text="after", timeout=5)
            assert not va.seen("error") and not vb.seen("error")
            await late.wait_type("chat_message", text="after", timeout=5)
            assert late.seen("chat_message") == []  # nothing twice, nothing out of place
            assert all(status < 500 for status in statuses), statuses
            for proc in (a, b):
                assert proc.log is not None
                log = proc.log.read_text()
                assert "Traceback" not in log and "ERROR" not in log, log
        finally:
            for c in clients:
                await c.close()


@pytest.fixture
def gated_pair(
    pg_migrated: str, redis_server: PrivateRedis, tmp_path: Path
) -> Iterator[tuple[list[Proc], RedisGate]]:
    """Two server processes on the private Redis; the second reaches it through a gate."""
    env = _pair_env(pg_migrated, redis_server)
    gate = RedisGate(redis_server.port)
    gate.start()
    try:
        with serve(env, tmp_path, env_of={"b": {"LIVESHOP_REDIS_URL": gate.url}}) as procs:
            yield procs, gate
    finally:
        gate.close()


async def test_chat_of_a_process_cut_off_alone_reaches_the_others_when_it_is_back(
    gated_pair: tuple[list[Proc], RedisGate], pg_migrated: str
) -> None:
    """Only B loses Redis (A never notices): what B's shoppers said meanwhile reaches A's once
    B is back (B tells the others to catch up from the database)."""
    (a, b), gate = gated_pair
    clients: list[Client] = []
    async with httpx.AsyncClient(timeout=30) as http:
        admin = await seller_token(pg_migrated, a.url, http)
        show = await _start_show(http, a, admin, "One process cut off")

        async def guest(proc: Proc, name: str) -> Client:
            r = await http.post(f"{proc.url}/api/auth/guest", json={"name": name})
            client = Client(await websockets.connect(f"{proc.ws}?token={r.json()['accessToken']}"))
            clients.append(client)
            await client.join(show)
            return client

        try:
            va, vb = await guest(a, "OnA"), await guest(b, "OnB")
            gate.cut()
            await until(
                lambda: _health_is(http, b, "degraded"),
                timeout=10,
                message="B's health to say broker: degraded",
            )
            await vb.send(type="chat_send", text="said on B, cut off", clientMessageId="b1")
            await vb.wait_type("chat_message", clientMessageId="b1")
            assert (await _health(http, a))["broker"] == "redis"  # A never lost Redis
            gate.resume()
            await va.wait_type("chat_message", text="said on B, cut off", timeout=15)
            await vb.send(type="chat_send", text="after", clientMessageId="b2")
            await va.wait_type("chat_message", text="after", timeout=5)
            assert va.seen("chat_message") == []  # nothing twice
        finally:
            for c in clients:
                await c.close()


async def _start_show(http: httpx.AsyncClient, proc: Proc, admin: str, title: str) -> int:
    r = await http.post(
        f"{proc.url}/api/livestreams",
        json={"title": title},
        headers={"Authorization": f"Bearer {admin}"},
    )
    show: int = r.json()["livestream"]["id"]
    return show


async def _health_is(http: httpx.AsyncClient, proc: Proc, broker: str) -> bool:
    body = await _health(http, proc)
    return body["broker"] == broker and body["status"] == "degraded"
