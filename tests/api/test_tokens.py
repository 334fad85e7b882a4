"""Revocable tokens (issue 14): an account's tokens stop working at once, on REST and on open
sockets, when its role changes, when it is deleted, or when ``liveshop token revoke`` is run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import jwt
import websockets

from liveshop.storage import users
from tests.conftest import ADMIN_EMAIL, LiveServer


async def test_role_change_revokes_tokens_at_once(
    client: httpx.AsyncClient, admin: dict[str, str], server: LiveServer
) -> None:
    """A seller demoted to customer can no longer use the token they hold."""
    async with server.db.session() as session:
        user = await users.get_by_email(session, ADMIN_EMAIL)
        assert user is not None
        await users.set_role(session, user, "customer")
    r = await client.post("/api/products", json={"name": "Mug", "price": "5.00"}, headers=admin)
    assert r.status_code == 401


async def test_deleted_account_token_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], server: LiveServer
) -> None:
    """Once the account is deleted, ``/api/auth/me`` refuses its token."""
    async with server.db.session() as session:
        user = await users.get_by_email(session, ADMIN_EMAIL)
        assert user is not None
        await users.delete(session, user)
    assert (await client.get("/api/auth/me", headers=admin)).status_code == 401


async def test_revoked_account_socket_is_closed_through_the_broker(
    admin_token: str, server: LiveServer
) -> None:
    """``Announcer.account_revoked`` closes the account's open sockets with 4401 at once."""
    async with websockets.connect(f"{server.ws_url}?token={admin_token}") as ws:
        await ws.send('{"type": "ping"}')
        await ws.recv()
        async with server.db.session() as session:
            user = await users.get_by_email(session, ADMIN_EMAIL)
            assert user is not None
            await users.revoke_tokens(session, user)
        await server.app.state.announcer.account_revoked(user.id)
        error = await asyncio.wait_for(ws.recv(), 5)
        assert '"unauthorized"' in str(error)
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 4401


async def test_cli_revoke_refuses_rest_and_closes_sockets(
    client: httpx.AsyncClient, admin_token: str, server: LiveServer
) -> None:
    """``liveshop token revoke --email`` (no broker reaches it): REST refuses the token at once and
    the hub closes the open socket within its account check (5 s)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with websockets.connect(f"{server.ws_url}?token={admin_token}") as ws:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
        env |= {
            "LIVESHOP_DATABASE_URL": server.settings.effective_database_url,
            "LIVESHOP_DATA_DIR": str(server.settings.data_dir),
            "LIVESHOP_SECRET_KEY": server.settings.secret_key,
        }
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "liveshop.cli", "token", "revoke", "--email", ADMIN_EMAIL],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 4401


async def test_seller_tokens_are_short_lived_by_default(admin_token: str) -> None:
    """A seller's log-in token lasts 12 hours, not the 7 days of a customer's."""
    claims = jwt.decode(admin_token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 12 * 3600
