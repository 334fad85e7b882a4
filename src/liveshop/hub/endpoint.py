"""``GET /ws?token=…``: authenticate, then feed text frames to the hub."""

from __future__ import annotations

import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect

from liveshop import protocol
from liveshop.authentication import Authenticator
from liveshop.client_address import client_address
from liveshop.hub.connection import CLOSE_TRY_AGAIN, CLOSE_UNAUTHORIZED, Connection
from liveshop.hub.hub import Hub
from liveshop.hub.wsproto import FRAMES_EXTENSION
from liveshop.security import InvalidToken
from liveshop.storage.errors import Unavailable


async def websocket_endpoint(websocket: WebSocket) -> None:
    """One socket's life. A missing, expired or forged token gets ``error unauthorized`` and the
    close code 4401; an address over its connection budget gets ``error rate_limited`` and 1013,
    and so does any socket while the database is unreachable (``error unavailable``);
    binary frames get ``error invalid``; the socket's failures never reach others."""
    hub: Hub = websocket.app.state.hub
    authenticator: Authenticator = websocket.app.state.authenticator
    address = client_address(websocket)
    await websocket.accept()
    try:
        await hub.budgets.spend("connect", address)
        identity = await authenticator.identify(websocket.query_params.get("token", ""))
    except InvalidToken:
        with contextlib.suppress(Exception):
            await websocket.send_text(protocol.error("unauthorized", "a valid ?token= is required"))
            await websocket.close(CLOSE_UNAUTHORIZED, "unauthorized")
        return
    except Unavailable:  # the database is away (restart, failover): the page retries
        with contextlib.suppress(Exception):
            await websocket.send_text(
                protocol.error(
                    "unavailable",
                    "the service is briefly unavailable; reconnect shortly",
                    retry_after=Unavailable.retry_after,
                )
            )
            await websocket.close(CLOSE_TRY_AGAIN, "service briefly unavailable")
        return
    except protocol.ProtocolError as refused:  # this address connects too often
        with contextlib.suppress(Exception):
            await websocket.send_text(
                protocol.error(refused.code, refused.message, retry_after=refused.retry_after)
            )
            await websocket.close(CLOSE_TRY_AGAIN, "too many connections from your network")
        return
    frames = websocket.scope.get("extensions", {}).get(FRAMES_EXTENSION) or {}
    conn = Connection(
        websocket,
        identity,
        on_close=hub.disconnect,
        write_frame=frames.get("write"),
        address=address,
    )
    await hub.connect(conn)
    try:
        while True:  # until the peer's close arrives (also after we started closing)
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if conn.closed:
                continue
            text = message.get("text")
            if text is not None:
                await hub.handle(conn, text)
            else:
                conn.push(
                    protocol.error("invalid", "binary frames are not accepted; send JSON text")
                )
                hub.bad_message(conn)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await hub.disconnect(conn)
