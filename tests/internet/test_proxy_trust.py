"""Client addresses: proxy headers count only from the proxies in LIVESHOP_FORWARDED_ALLOW_IPS."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets

from liveshop.config import Settings
from tests.conftest import start_server, stop_server

SPOOFED = "198.51.100.7"


class Addresses(logging.Handler):
    """Client addresses in uvicorn's access log lines (HTTP) and WebSocket accept lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[str] = []
        self.loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]

    def listen(self) -> None:
        for logger in self.loggers:
            logger.addHandler(self)
            logger.setLevel(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.args, tuple) or not record.args:
            return
        if record.name == "uvicorn.access" or "WebSocket" in str(record.msg):
            self.seen.append(str(record.args[0]).rsplit(":", 1)[0])


@pytest.fixture
def addresses() -> Iterator[Addresses]:
    """What uvicorn logs as the client address of each request and WebSocket (listening from
    :meth:`Addresses.listen`, after the server configured its loggers)."""
    handler = Addresses()
    yield handler
    for logger in handler.loggers:
        logger.removeHandler(handler)


@pytest.fixture
async def serve(
    make_settings: Callable[..., Settings], addresses: Addresses
) -> AsyncIterator[Callable[..., Any]]:
    running: list[Any] = []

    async def start(**overrides: Any) -> str:
        srv, task, live = await start_server(make_settings(**overrides))
        running.append((srv, task))
        addresses.listen()
        return live.url

    yield start
    for srv, task in running:
        await stop_server(srv, task)


async def get_with(url: str, forwarded_for: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{url}/api/health", headers={"X-Forwarded-For": forwarded_for})
        assert r.status_code == 200


async def test_spoofed_forwarded_for_is_ignored_by_default(
    serve: Callable[..., Any], addresses: Addresses
) -> None:
    """Without LIVESHOP_FORWARDED_ALLOW_IPS, X-Forwarded-For does not change the client address."""
    url = await serve()
    await get_with(url, SPOOFED)
    assert addresses.seen == ["127.0.0.1"]


async def test_forwarded_for_is_honoured_from_a_configured_proxy(
    serve: Callable[..., Any], addresses: Addresses
) -> None:
    """From an address in LIVESHOP_FORWARDED_ALLOW_IPS, the forwarded client address is used."""
    url = await serve(forwarded_allow_ips="127.0.0.1")
    await get_with(url, f"203.0.113.99, {SPOOFED}")
    assert addresses.seen == [SPOOFED]


async def test_forwarded_for_from_an_unlisted_peer_is_ignored(
    serve: Callable[..., Any], addresses: Addresses
) -> None:
    """When another proxy is the trusted one, a direct client's X-Forwarded-For is ignored."""
    url = await serve(forwarded_allow_ips="10.20.30.0/24")
    await get_with(url, SPOOFED)
    assert addresses.seen == ["127.0.0.1"]


async def test_websocket_client_address_comes_through_the_trusted_proxy(
    serve: Callable[..., Any], addresses: Addresses
) -> None:
    """A WebSocket opened through the configured proxy is logged with the forwarded address."""
    url = await serve(forwarded_allow_ips="127.0.0.1")
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(ws_url, additional_headers={"X-Forwarded-For": SPOOFED}) as ws:
        await ws.recv()
    assert addresses.seen == [SPOOFED]


def test_a_malformed_proxy_address_is_a_configuration_error(
    make_settings: Callable[..., Settings],
) -> None:
    """LIVESHOP_FORWARDED_ALLOW_IPS refuses entries that are not addresses or networks."""
    with pytest.raises(ValueError, match="FORWARDED_ALLOW_IPS"):
        make_settings(forwarded_allow_ips="proxy.example")
