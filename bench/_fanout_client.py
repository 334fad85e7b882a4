"""Load generator for ``bench.fanout``: one process holding many viewer sockets (picows).

Driven over stdin/stdout with one JSON object per line. The first line is the configuration
(``url``, ``tokens`` or ``secret`` + ``prefix``, ``count``, ``show``, ``cpus``); then commands:

* ``{"cmd": "connect"}`` → connect and join every viewer; answers ``{ready, failed, seconds}``.
* ``{"cmd": "start", "since": t}`` → reset the counters; from now on a ``chat_message`` whose text
  is a send time ≥ ``since`` counts as delivered, with latency = arrival − send time.
* ``{"cmd": "count"}`` → ``{delivered, frames, closed}`` so far.
* ``{"cmd": "collect"}`` → the same plus ``lat``: every latency (ms, float32, base64).
* ``{"cmd": "quit"}`` → close the sockets and exit.

Per frame it does as little as possible: one regex scan of the raw payload (a batch frame holds
several messages), no JSON decoding.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import sys
import time
import uuid
from typing import Any

import jwt
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

# The bench's chat texts are exactly a send time such as "1718000000.123456".
SEND_TIME = re.compile(rb'"text":"(\d{9,11}\.\d{6})"')
# A join is answered by a snapshot, possibly as the first event of a batch (a writer that fell
# behind merges what is queued).
SNAPSHOT = (b'{"type":"snapshot"', b'{"type":"batch","events":[{"type":"snapshot"')


def mint_token(secret: str, sub: str, name: str, ttl: int = 3 * 3600) -> str:
    """A guest token as ``liveshop.security.TokenService.issue`` makes it (HS256)."""
    now = int(time.time())
    claims = {"sub": sub, "name": name, "role": "guest", "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Generator:
    """Counters shared by every viewer of this process."""

    def __init__(self, join: bytes, count: int) -> None:
        self.join = join
        self.count = count
        self.joined = 0
        self.refused = 0
        self.closed = 0
        self.frames = 0
        self.since = float("inf")
        self.lat: array.array[float] = array.array("d")
        self.all_joined = asyncio.Event()

    def on_joined(self) -> None:
        self.joined += 1
        if self.joined >= self.count:
            self.all_joined.set()


class Viewer(WSListener):
    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self.gen = gen
        self.joined = False
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        transport.send(WSMsgType.TEXT, self.gen.join)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT:
            now = time.time()
            data = frame.get_payload_as_bytes()
            gen = self.gen
            if not self.joined:
                if data.startswith(SNAPSHOT):
                    self.joined = True
                    gen.on_joined()
                elif b'"type":"error"' in data:
                    gen.refused += 1
                return
            if now < gen.since:
                return
            gen.frames += 1
            since, lat = gen.since, gen.lat
            for match in SEND_TIME.finditer(data):
                sent = float(match.group(1))
                if sent >= since:
                    lat.append(now - sent)
        elif kind == WSMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.joined:
            self.gen.closed += 1


async def connect_all(
    url: str, tokens: list[str], gen: Generator, concurrency: int
) -> tuple[list[WSTransport], int]:
    gate = asyncio.Semaphore(concurrency)
    transports: list[WSTransport] = []
    failed = 0

    async def one(token: str) -> None:
        nonlocal failed
        async with gate:
            for attempt in range(6):
                try:
                    transport, _ = await ws_connect(
                        lambda: Viewer(gen),
                        f"{url}?token={token}",
                        websocket_handshake_timeout=30,
                        enable_auto_pong=True,
                    )
                except Exception:
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                transports.append(transport)
                return
            failed += 1

    await asyncio.gather(*(one(t) for t in tokens))
    return transports, failed


def reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    if config.get("cpus"):
        os.sched_setaffinity(0, set(config["cpus"]))
    count = int(config["count"])
    tokens: list[str] = config.get("tokens") or [
        mint_token(config["secret"], f"g_{uuid.uuid4().hex}", f"{config['prefix']}-{i}")
        for i in range(count)
    ]
    join = json.dumps({"type": "join", "livestreamId": config["show"]}).encode()
    gen = Generator(join, count)
    transports: list[WSTransport] = []
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        match cmd["cmd"]:
            case "connect":
                started = time.monotonic()
                transports, failed = await connect_all(
                    config["url"], tokens, gen, int(config.get("concurrency", 64))
                )
                if transports:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(gen.all_joined.wait(), timeout=120)
                reply(
                    {
                        "ready": gen.joined,
                        "failed": failed + gen.refused,
                        "seconds": time.monotonic() - started,
                    }
                )
            case "start":
                gen.frames = 0
                gen.lat = array.array("d")
                gen.closed = 0
                gen.since = float(cmd["since"])
                reply({"ok": True})
            case "count":
                reply({"delivered": len(gen.lat), "frames": gen.frames, "closed": gen.closed})
            case "collect":
                ms = array.array("f", (x * 1000.0 for x in gen.lat))
                reply(
                    {
                        "delivered": len(gen.lat),
                        "frames": gen.frames,
                        "closed": gen.closed,
                        "lat": base64.b64encode(ms.tobytes()).decode(),
                    }
                )
                gen.since = float("inf")
            case "quit":
                for transport in transports:
                    transport.send_close(WSCloseCode.OK)
                    transport.disconnect()
                await asyncio.sleep(0.2)
                reply({"ok": True})
                break


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
