"""Log-in, registration and guest-token limits (issue 14): counted before the password is
checked, keyed by (e-mail, address) and by address, shared by every process, and never a way to
lock the seller out from other addresses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

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

LOGIN = "/api/auth/login"


def from_address(address: str) -> dict[str, str]:
    """Headers of a request relayed by the trusted proxy (127.0.0.1) for ``address``."""
    return {"X-Forwarded-For": address}


@pytest.fixture
async def proxied(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    """Start servers that trust 127.0.0.1 as their proxy, so a test can speak for any address."""
    running: list[Any] = []

    async def start(**overrides: Any) -> tuple[LiveServer, httpx.AsyncClient]:
        srv, task, live = await start_server(
            make_settings(
                forwarded_allow_ips="127.0.0.1",
                guest_tokens_per_minute=20,
                registrations_per_minute=5,
                **overrides,
            )
        )
        client = httpx.AsyncClient(base_url=live.url, timeout=30)
        running.append((srv, task, client))
        return live, client

    yield start
    for srv, task, client in reversed(running):  # each restores what the previous one found
        await client.aclose()
        await stop_server(srv, task)


async def test_attempts_are_counted_before_the_password_is_checked(
    proxied: Callable[..., Any],
) -> None:
    """30 concurrent wrong passwords for one e-mail from one address: 10 are checked (401), the
    other 20 are refused at once (429 with Retry-After)."""
    server, client = await proxied()
    await create_admin(server)
    body = {"email": ADMIN_EMAIL, "password": "wrong password"}
    answers = await asyncio.gather(*[client.post(LOGIN, json=body) for _ in range(30)])
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 10 + [429] * 20
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)


async def test_other_addresses_failures_never_refuse_the_right_password(
    proxied: Callable[..., Any],
) -> None:
    """Failures for the seller's e-mail from 12 addresses (past the per-pair limit in total), then
    the right password from another address: 200 (slowed down, not locked out)."""
    server, client = await proxied()
    await create_admin(server)
    bad = {"email": ADMIN_EMAIL, "password": "wrong password"}
    for n in range(12):
        r = await client.post(LOGIN, json=bad, headers=from_address(f"198.51.100.{n}"))
        assert r.status_code == 401
    good = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    r = await client.post(LOGIN, json=good, headers=from_address("203.0.113.9"))
    assert r.status_code == 200, r.text


async def test_one_address_trying_many_emails_is_limited(proxied: Callable[..., Any]) -> None:
    """From one address, attempts over every e-mail are capped at three times the per-e-mail
    limit (30 a minute); another address is unaffected."""
    _, client = await proxied()
    codes = []
    for i in range(31):
        body = {"email": f"u{i}@example.com", "password": "wrong password"}
        codes.append(
            (await client.post(LOGIN, json=body, headers=from_address("1.2.3.4"))).status_code
        )
    assert codes == [401] * 30 + [429]
    body = {"email": "u0@example.com", "password": "wrong password"}
    assert (await client.post(LOGIN, json=body, headers=from_address("1.2.3.5"))).status_code == 401


async def test_login_limit_is_shared_by_processes(proxied: Callable[..., Any]) -> None:
    """Two processes on one Redis share the count: 10 attempts split over both, the 11th is 429
    on either."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    redis = {
        "redis_url": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "redis_prefix": f"t{uuid.uuid4().hex[:8]}:",
    }
    a, client_a = await proxied(**redis)
    _, client_b = await proxied(**redis)
    await create_admin(a)
    bad = {"email": ADMIN_EMAIL, "password": "wrong password"}
    for i in range(10):
        r = await (client_a if i % 2 else client_b).post(LOGIN, json=bad)
        assert r.status_code == 401
    assert (await client_a.post(LOGIN, json=bad)).status_code == 429
    assert (await client_b.post(LOGIN, json=bad)).status_code == 429


async def test_registrations_are_limited_per_address(proxied: Callable[..., Any]) -> None:
    """The 6th registration in a minute from one address is 429; another address may register."""
    _, client = await proxied()
    codes = []
    for i in range(6):
        body = {"email": f"c{i}@example.com", "password": "long enough", "name": "C"}
        r = await client.post("/api/auth/register", json=body, headers=from_address("1.2.3.4"))
        codes.append(r.status_code)
    assert codes == [201] * 5 + [429]
    body = {"email": "c9@example.com", "password": "long enough", "name": "C"}
    r = await client.post("/api/auth/register", json=body, headers=from_address("1.2.3.5"))
    assert r.status_code == 201


async def test_register_does_not_tell_whose_email_it_is(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    """Registering the seller's e-mail answers exactly as registering a customer's."""
    await create_admin(server)
    customer = {"email": "c@example.com", "password": "long enough", "name": "C"}
    assert (await client.post("/api/auth/register", json=customer)).status_code == 201
    taken = await client.post("/api/auth/register", json=customer)
    seller = await client.post("/api/auth/register", json={**customer, "email": ADMIN_EMAIL})
    assert taken.status_code == seller.status_code == 409
    assert taken.json() == seller.json()


async def test_new_guest_tokens_are_limited_per_address(proxied: Callable[..., Any]) -> None:
    """The 21st new guest identity in a minute from one address is 429; renaming an existing
    guest is not counted; another address still gets one."""
    _, client = await proxied()
    here = from_address("1.2.3.4")
    tokens = []
    for _ in range(20):
        r = await client.post("/api/auth/guest", json={"name": "G"}, headers=here)
        assert r.status_code == 200
        tokens.append(r.json()["accessToken"])
    assert (await client.post("/api/auth/guest", headers=here)).status_code == 429
    renamed = await client.post(
        "/api/auth/guest",
        json={"name": "G2"},
        headers={**here, "Authorization": f"Bearer {tokens[0]}"},
    )
    assert renamed.status_code == 200
    assert (
        await client.post("/api/auth/guest", headers=from_address("1.2.3.5"))
    ).status_code == 200


async def test_rotating_forwarded_for_does_not_escape_the_limit_without_a_trusted_proxy(
    make_settings: Callable[..., Settings],
) -> None:
    """Without LIVESHOP_FORWARDED_ALLOW_IPS, 11 wrong passwords each with a new X-Forwarded-For
    count against the connection's own address: the 11th is 429 (issue 13's repro)."""
    srv, task, live = await start_server(make_settings())
    try:
        await create_admin(live)
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            bad = {"email": ADMIN_EMAIL, "password": "wrong password"}
            codes = [
                (
                    await client.post(LOGIN, json=bad, headers=from_address(f"198.51.100.{n}"))
                ).status_code
                for n in range(11)
            ]
        assert codes == [401] * 10 + [429]
    finally:
        await stop_server(srv, task)
