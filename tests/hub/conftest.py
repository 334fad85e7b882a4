"""Helpers for hub tests: real WebSocket clients against a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from liveshop.config import Settings
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    REDIS_HOST,
    REDIS_PORT,
    LiveServer,
    create_admin,
    require,
    start_server,
    stop_server,
)


class Client:
    """A WebSocket client that unpacks batches and lets tests wait for a given event."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future()
        )

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                event = json.loads(raw)
                items = event["events"] if event.get("type") == "batch" else [event]
                self.events.extend(items)
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result((self.ws.close_code, self.ws.close_reason or ""))
            self._new.set()

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first event (received so far or later) matching ``predicate``; consumed once."""

        async def look() -> dict[str, Any]:
            while True:
                for i, event in enumerate(self.events):
                    if predicate(event):
                        del self.events[i]
                        return event
                if self._reader.done():
                    raise AssertionError(f"socket closed while waiting; got {self.events}")
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(look(), timeout)

    async def wait_type(self, kind: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        return await self.wait_for(
            lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items()),
            timeout,
        )

    def seen(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    async def join(self, livestream_id: int, **extra: Any) -> dict[str, Any]:
        await self.send(type="join", livestreamId=livestream_id, **extra)
        return await self.wait_type("snapshot")

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class Env:
    """A running server plus ways to get tokens, shows and sockets."""

    def __init__(self, server: LiveServer, http: httpx.AsyncClient, admin_token: str) -> None:
        self.server, self.http, self.admin_token = server, http, admin_token
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.clients: list[Client] = []

    async def guest_token(self, name: str = "Shopper", address: str | None = None) -> str:
        headers = {"X-Forwarded-For": address} if address else {}
        r = await self.http.post("/api/auth/guest", json={"name": name}, headers=headers)
        token: str = r.json()["accessToken"]
        return token

    async def connect(
        self, token: str | None = None, url: str | None = None, address: str | None = None
    ) -> Client:
        """A socket for ``token`` (default: a new guest's); ``address``: the client address a
        trusted proxy (the server must list 127.0.0.1 in forwarded_allow_ips) says it is."""
        token = token if token is not None else await self.guest_token(address=address)
        ws = await websockets.connect(
            f"{url or self.server.ws_url}?token={token}",
            max_size=2**20,
            additional_headers={"X-Forwarded-For": address} if address else None,
        )
        client = Client(ws)
        self.clients.append(client)
        return client

    async def start_show(self, title: str = "Show") -> int:
        r = await self.http.post("/api/livestreams", json={"title": title}, headers=self.admin)
        assert r.status_code == 201, r.text
        show_id: int = r.json()["livestream"]["id"]
        return show_id

    async def seed_chat(self, show: int, count: int) -> None:
        """Store ``count`` chat messages m0, m1, … directly (past any rate limit)."""
        from liveshop.storage import chat

        async with self.server.db.session() as session:
            for i in range(count):
                await chat.add(
                    session,
                    livestream_id=show,
                    user_id="g_1",
                    user_name="A",
                    user_role="guest",
                    text=f"m{i}",
                    client_message_id=None,
                )

    async def product(self, name: str = "Mug") -> int:
        r = await self.http.post(
            "/api/products", json={"name": name, "price": "5.00"}, headers=self.admin
        )
        product_id: int = r.json()["product"]["id"]
        return product_id


@pytest.fixture(params=["memory", "redis"])
def broker_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """Runs the test once per broker: in-process and Redis (with a private key prefix)."""
    if request.param == "memory":
        return {}
    require("Redis", REDIS_HOST, REDIS_PORT)
    return {
        "redis_url": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "redis_prefix": f"t{uuid.uuid4().hex[:8]}:",
    }


@pytest.fixture
def hub_settings() -> dict[str, Any]:
    """Settings of the test's server beyond the backends (a test module may override this)."""
    return {}


@pytest.fixture
async def hub_server(
    database_url: str,
    make_settings: Callable[..., Settings],
    broker_settings: dict[str, str],
    hub_settings: dict[str, Any],
) -> AsyncIterator[LiveServer]:
    srv, task, live = await start_server(
        make_settings(database_url=database_url, **broker_settings, **hub_settings)
    )
    try:
        yield live
    finally:
        await stop_server(srv, task)


@pytest.fixture
async def env(hub_server: LiveServer) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(base_url=hub_server.url, timeout=30) as http:
        await create_admin(hub_server)
        r = await http.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        e = Env(hub_server, http, r.json()["accessToken"])
        try:
            yield e
        finally:
            for c in e.clients:
                await c.close()
