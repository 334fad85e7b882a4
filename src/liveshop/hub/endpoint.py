"""``GET /ws?token=…``: authenticate, then feed text frames to the hub."""

from __future__ import annotations

import contextlib
import math

from starlette.responses import JSONResponse
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
    """One socket's life. An address over its connection budget is refused at the handshake
    (HTTP 429 with ``Retry-After``, before the token is even read, so a flooding address costs
    one budget lookup per attempt); a missing, expired or forged token gets
    ``error unauthorized`` and the close code 4401; while the database is unreachable a socket
    gets ``error unavailable`` and 1013; binary frames get ``error invalid``; the socket's
    failures never reach others."""
    hub: Hub = websocket.app.state.hub
    authenticator: Authenticator = websocket.app.state.authenticator
    address = client_address(websocket)
    try:
        await hub.budgets.spend("connect", address)
    except protocol.ProtocolError as refused:  # this address connects too often
        await refuse_handshake(websocket, refused)
        return
    await websocket.accept()
    try:
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


async def refuse_handshake(websocket: WebSocket, refused: protocol.ProtocolError) -> None:
    """Answer the upgrade request with HTTP 429, ``Retry-After`` and a JSON ``detail``, without
    accepting the socket. A server without the ASGI denial-response extension gets the old
    answer instead: accept, ``error rate_limited``, close 1013. Never raises."""
    retry_after = max(1, math.ceil(refused.retry_after or 1))
    with contextlib.suppress(Exception):
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            response = JSONResponse(
                {
                    "detail": "too many connections from your network; retry later",
                    "code": refused.code,
                    "retryAfter": retry_after,
                },
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
            await websocket.send_denial_response(response)
            return
        await websocket.accept()
        await websocket.send_text(
            protocol.error(refused.code, refused.message, retry_after=refused.retry_after)
        )
        await websocket.close(CLOSE_TRY_AGAIN, "too many connections from your network")
