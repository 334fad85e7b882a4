"""The bare reference for ``bench.fanout``: a tiny ``websockets`` server, one room, no framework.

Speaks the part of the liveshop protocol the bench uses: ``join`` is answered by a small
``snapshot``; ``chat_send`` becomes one ``chat_message`` frame (same fields as liveshop's) that is
``broadcast()`` to every joined socket at once, one frame per message (no batching, no queue per
socket, no persistence, no authentication). Run as ``python -m bench._fanout_bare --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve

SHOW_ID = 1


class Room:
    def __init__(self) -> None:
        self.joined: set[ServerConnection] = set()
        self.next_id = 1


async def handler(ws: ServerConnection, room: Room) -> None:
    user = {"id": "g_" + ws.id.hex, "name": "viewer", "role": "guest"}
    try:
        async for raw in ws:
            if not isinstance(raw, str):
                continue
            try:
                msg: Any = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            kind = msg.get("type")
            if kind == "join":
                room.joined.add(ws)
                await ws.send(f'{{"type":"snapshot","livestream":{{"id":{SHOW_ID}}}}}')
            elif kind == "chat_send" and ws in room.joined:
                event = {
                    "type": "chat_message",
                    "id": room.next_id,
                    "livestreamId": SHOW_ID,
                    "user": user,
                    "text": str(msg.get("text", ""))[:500],
                    "createdAt": dt.datetime.now(dt.UTC).isoformat(),
                    "clientMessageId": msg.get("clientMessageId"),
                }
                room.next_id += 1
                frame = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
                broadcast(room.joined, frame)
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
    finally:
        room.joined.discard(ws)


async def main(host: str, port: int) -> None:
    room = Room()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)

    async def on_connect(ws: ServerConnection) -> None:
        await handler(ws, room)

    async with serve(
        on_connect,
        host,
        port,
        compression=None,
        max_size=256 * 1024,
        ping_interval=20.0,
        ping_timeout=20.0,
        backlog=4096,
        max_queue=64,
    ):
        print(f"bare reference listening on {host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    asyncio.run(main(args.host, args.port))
