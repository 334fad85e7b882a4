"""Accounts and tokens: /api/auth/*."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, create_admin


async def test_login_returns_bearer_token_and_admin_user(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    """Login answers a bearer token and the user with role admin."""
    await create_admin(server)
    r = await client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["tokenType"] == "bearer"
    assert body["user"]["role"] == "admin" and body["user"]["email"] == ADMIN_EMAIL
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"}
    )
    assert me.json()["user"]["id"] == body["user"]["id"]


async def test_login_email_is_case_insensitive(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    """An e-mail typed with capitals logs in to the same account."""
    await create_admin(server)
    r = await client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert r.status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_401(
    server: LiveServer, client: httpx.AsyncClient
) -> None:
    """Both failures are indistinguishable."""
    await create_admin(server)
    wrong = await client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "nope"})
    unknown = await client.post(
        "/api/auth/login", json={"email": "who@example.com", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_guest_token_has_guest_role_and_stable_id(client: httpx.AsyncClient) -> None:
    """A guest gets a token; renaming with that token keeps the guest id."""
    r = await client.post("/api/auth/guest", json={"name": "Ana"})
    assert r.status_code == 200
    first = r.json()
    assert first["user"]["role"] == "guest" and first["user"]["name"] == "Ana"
    headers = {"Authorization": f"Bearer {first['accessToken']}"}
    again = await client.post("/api/auth/guest", json={"name": "Ana B"}, headers=headers)
    assert again.json()["user"]["id"] == first["user"]["id"]
    assert again.json()["user"]["name"] == "Ana B"
    other = await client.post("/api/auth/guest")
    assert other.json()["user"]["id"] != first["user"]["id"]


async def test_register_creates_customer_and_answers_201(client: httpx.AsyncClient) -> None:
    """Register answers like login with 201 and role customer; a second time is 409."""
    body = {"email": "c@example.com", "password": "long enough", "name": "Cleo"}
    r = await client.post("/api/auth/register", json=body)
    assert r.status_code == 201
    assert r.json()["user"]["role"] == "customer" and r.json()["tokenType"] == "bearer"
    login = await client.post(
        "/api/auth/login", json={"email": "c@example.com", "password": "long enough"}
    )
    assert login.status_code == 200
    assert (await client.post("/api/auth/register", json=body)).status_code == 409


async def test_register_validates_fields(client: httpx.AsyncClient) -> None:
    """A short password and a bad e-mail are 422 naming the fields."""
    r = await client.post(
        "/api/auth/register", json={"email": "nope", "password": "short", "name": "X"}
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["detail"]}
    assert {"email", "password"} <= fields


async def test_me_requires_a_valid_token(client: httpx.AsyncClient) -> None:
    """No token, a garbage token and a forged token are all 401."""
    assert (await client.get("/api/auth/me")).status_code == 401
    assert (
        await client.get("/api/auth/me", headers={"Authorization": "Bearer garbage"})
    ).status_code == 401
    import jwt

    forged = jwt.encode(
        {"sub": "x", "role": "admin", "exp": 9999999999, "name": "x"},
        "wrong-key-0123456789-0123456789-0123",
        algorithm="HS256",
    )
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_expired_token_is_401(server: LiveServer, client: httpx.AsyncClient) -> None:
    """A token past its expiry is refused."""
    import time

    import jwt

    key = server.settings.secret_key
    expired = jwt.encode(
        {"sub": "x", "role": "admin", "exp": int(time.time()) - 10, "name": "x"},
        key,
        algorithm="HS256",
    )
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
