"""Faults against a scripted show (run as ``python -m bench.chaos``).

Two ``liveshop serve`` processes share a private PostgreSQL cluster and a private Redis (started by
the bench on free ports, never the machine's: see ``bench._services``); recordings go to a small
tmpfs (root only; without it the disk-full row is skipped). A seller publishes synthetic video
over WHIP to process A (aiortc), a WHEP viewer watches it, and shoppers on both processes chat.
Then, one after another, each fault is injected for ``--down`` seconds and taken away:

* ``none`` — the reference row, measured the same way;
* ``redis restart`` — Redis stopped (its keys are gone) and started again;
* ``postgres restart`` — a fast shutdown of PostgreSQL (connections cut) and a start;
* ``disk full`` — the recordings' disk filled to the last few kilobytes, then emptied.

Per fault: time to detect (injection → ``/api/health`` of a process says ``degraded``), time to
recover (fault removed → both processes healthy, and the seller's viewer count right again), chat
messages acknowledged to their senders vs stored in the database vs delivered to an observer on
the *other* process (must be equal; a message refused with ``error unavailable`` was not
acknowledged and is counted apart), viewers lost (sockets closed, WHEP video stalled > 3 s), and
errors seen by clients (HTTP 5xx from a REST poller on both processes, WS errors other than
``unavailable``). All traffic stays on loopback.

Then, on a second show with both processes in ``janus`` mode over two Janus instances, the rows
``janus dies`` (the instance that is not the origin is SIGKILLed) and ``janus origin dies``: see
``bench._chaos_janus`` (needs Janus and network namespaces, else skipped). ``--only services`` /
``--only janus`` runs one part.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._services import (
    PrivatePostgres,
    PrivateRedis,
    free_port,
    listening,
    mount_tmpfs,
    unmount,
)

DISK_BYTES = 16 << 20
DISK_HEADROOM = 64 << 10


@dataclass
class Node:
    name: str
    port: int
    popen: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@dataclass
class Phase:
    name: str
    acked: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    stored: int = 0
    detect: float | None = None
    recover: float | None = None
    sockets_lost: int = 0
    video_stalls: int = 0
    http_5xx: dict[int, int] = field(default_factory=dict)
    ws_errors: dict[str, int] = field(default_factory=dict)
    skipped: str = ""
    notes: list[str] = field(default_factory=list)  # printed under the table


class Shopper:
    """One WebSocket shopper: sends chat tagged with the phase, records what comes back."""

    def __init__(self, bench: Chaos, node: Node, name: str, token: str) -> None:
        self.bench, self.node, self.name, self.token = bench, node, name, token
        self.ws: Any = None
        self.count = 0
        self.reader: asyncio.Task[None] | None = None

    async def connect(self, show: int) -> None:
        import websockets

        self.ws = await websockets.connect(f"{self.node.ws}?token={self.token}", max_size=2**22)
        await self.ws.send(json.dumps({"type": "join", "livestreamId": show}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                event = json.loads(raw)
                for e in event["events"] if event.get("type") == "batch" else [event]:
                    self.bench.on_event(self, e)
        except Exception:
            pass
        self.bench.phase.sockets_lost += 0 if self.bench.closing else 1

    async def chat(self) -> None:
        self.count += 1
        ref = f"{self.bench.phase.name}|{self.name}|{self.count}"
        with contextlib.suppress(Exception):
            await self.ws.send(
                json.dumps({"type": "chat_send", "text": ref, "clientMessageId": ref})
            )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()


class Chaos:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.redis = PrivateRedis(work / "redis")
        self.pg = PrivatePostgres()
        self.media = work / "media"
        self.disk_error: str | None = None
        self.nodes: list[Node] = []
        self.phase = Phase("setup")
        self.closing = False
        self.viewer_count = -1
        self.shoppers: list[Shopper] = []
        self.observers: dict[str, Shopper] = {}
        self.frames = 0
        self.last_frame = time.monotonic()

    # --- set-up ------------------------------------------------------------------------------

    def start_services(self) -> None:
        from liveshop.media import aiortc_internals

        aiortc_internals.restrict_host_addresses(["127.0.0.1"])  # our peers: loopback only
        if not self.redis.installed() or not self.pg.installed():
            raise SystemExit("needs redis-server and PostgreSQL (initdb) installed")
        self.redis.start()
        self.pg.init()
        self.pg.start()
        from liveshop.storage.migrate import upgrade_sync

        upgrade_sync(self.pg.url)
        self.disk_error = mount_tmpfs(self.media, DISK_BYTES)

    def node_env(self) -> dict[str, str]:
        """Settings of both ``liveshop serve`` processes beyond the shared ones."""
        return {"LIVESHOP_MEDIA_ADDRESSES": "127.0.0.1"}

    def start_nodes(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
        env.update(
            LIVESHOP_DATABASE_URL=self.pg.url,
            LIVESHOP_REDIS_URL=self.redis.url,
            LIVESHOP_SECRET_KEY=secrets.token_urlsafe(48),
            LIVESHOP_MEDIA_DIR=str(self.media),
            LIVESHOP_GUEST_TOKENS_PER_MINUTE="0",
            LIVESHOP_TRUSTED_AFTER_SECONDS="0",
            LIVESHOP_ADDRESS_CHAT_PER_MINUTE="0",
            LIVESHOP_ADDRESS_CONNECTS_PER_MINUTE="0",
            **self.node_env(),
        )
        for name in ("A", "B"):
            port = free_port()
            (self.work / name).mkdir()
            popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "liveshop.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--no-access-log",
                ],
                cwd=self.work / name,
                env={**env, "LIVESHOP_DATA_DIR": str(self.work / name / "data")},
                stdout=subprocess.DEVNULL,
                stderr=(self.work / name / "stderr.log").open("wb"),
            )
            self.nodes.append(Node(name, port, popen))
        deadline = time.monotonic() + 120
        for node in self.nodes:
            while not listening(node.port):
                if node.popen.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{node.name} did not start:\n{self.log(node)}")
                time.sleep(0.2)

    def log(self, node: Node) -> str:
        return (self.work / node.name / "stderr.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.closing = True
        for node in self.nodes:
            if node.popen.poll() is None:
                node.popen.terminate()
        for node in self.nodes:
            try:
                node.popen.wait(15)
            except subprocess.TimeoutExpired:
                node.popen.kill()
        self.redis.stop()
        self.pg.remove()
        if self.disk_error is None:
            unmount(self.media)

    # --- the show ----------------------------------------------------------------------------

    async def show(self) -> None:
        import httpx

        from liveshop.security import hash_password
        from liveshop.storage import users
        from liveshop.storage.engine import Database

        db = Database(self.pg.url)
        async with db.session() as session:
            await users.create_user(
                session,
                email="seller@example.com",
                name="Seller",
                role="admin",
                password_hash=await hash_password("chaos seller password"),
            )
        await db.close()
        a = self.nodes[0]
        async with httpx.AsyncClient(timeout=30) as http:
            login = {"email": "seller@example.com", "password": "chaos seller password"}
            admin = (await http.post(f"{a.url}/api/auth/login", json=login)).json()["accessToken"]
            auth = {"Authorization": f"Bearer {admin}"}
            r = await http.post(f"{a.url}/api/livestreams", json={"title": "Chaos"}, headers=auth)
            self.show_id = r.json()["livestream"]["id"]
            seller = Shopper(self, a, "seller", admin)
            await seller.connect(self.show_id)
            self.seller = seller
            for i in range(self.args.shoppers + 2):
                node = self.nodes[i % 2]
                r = await http.post(f"{node.url}/api/auth/guest", json={"name": f"S{i}"})
                shopper = Shopper(self, node, f"{node.name}{i}", r.json()["accessToken"])
                await shopper.connect(self.show_id)
                if i < 2:
                    self.observers[node.name] = shopper
                else:
                    self.shoppers.append(shopper)
            self.publisher, self.viewer = await self.media_peers(http, a, admin)

    async def media_peers(self, http: Any, node: Node, admin: str) -> tuple[Any, Any]:
        from aiortc import RTCPeerConnection
        from aiortc.mediastreams import AudioStreamTrack

        from liveshop.media.synthetic import IndexedVideoTrack, answer, offer

        headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/sdp"}
        pub = RTCPeerConnection()
        pub.addTransceiver(IndexedVideoTrack(), direction="sendonly")
        pub.addTransceiver(AudioStreamTrack(), direction="sendonly")
        r = await http.post(
            f"{node.url}/api/livestreams/{self.show_id}/whip",
            content=await offer(pub),
            headers=headers,
        )
        await answer(pub, r.text)
        pc = RTCPeerConnection()
        video: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_track(track: Any) -> None:
            if track.kind == "video" and not video.done():
                video.set_result(track)

        pc.on("track", on_track)
        pc.addTransceiver("video", direction="recvonly")
        sdp = await offer(pc)
        deadline = time.monotonic() + 20
        while True:  # 409 "not live" until the publisher's connection is up
            r = await http.post(
                f"{node.url}/api/livestreams/{self.show_id}/whep", content=sdp, headers=headers
            )
            if r.status_code != 409 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        if r.status_code != 201:
            raise SystemExit(f"WHEP answered {r.status_code}: {r.text}")
        await answer(pc, r.text)
        track = await asyncio.wait_for(video, 20)
        self.watcher = asyncio.create_task(self.watch(track))
        return pub, pc

    async def watch(self, track: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames += 1
                self.last_frame = time.monotonic()

    def on_event(self, who: Shopper, event: dict[str, Any]) -> None:
        kind, phase = event.get("type"), self.phase
        if kind == "viewer_count" and who is getattr(self, "seller", None):
            self.viewer_count = int(event["count"])
        elif kind == "chat_message":
            ref = str(event.get("clientMessageId") or "")
            if not ref.startswith(phase.name + "|"):
                return
            sender_node = ref.split("|")[1][0]
            if ref.split("|")[1] == who.name:
                phase.acked.add(ref)
            if who in self.observers.values() and who.node.name != sender_node:
                phase.delivered.add(ref)
        elif kind == "error":
            code = str(event.get("code"))
            if code == "unavailable" and event.get("ref"):
                phase.refused.add(str(event["ref"]))
            elif code != "rate_limited":
                phase.ws_errors[code] = phase.ws_errors.get(code, 0) + 1

    # --- one phase ---------------------------------------------------------------------------

    async def run_phase(
        self,
        name: str,
        inject: Callable[[], Awaitable[None]],
        restore: Callable[[], Awaitable[None]],
    ) -> Phase:
        import httpx

        phase = self.phase = Phase(name)
        expected = len(self.shoppers) + len(self.observers)
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=5) as http:
            tasks = self.traffic(phase, http, stop)
            await asyncio.sleep(1.0)
            injected = time.monotonic()
            await inject()
            if name != "none":
                while time.monotonic() - injected < self.args.down:
                    if phase.detect is None and not await self.healthy(http):
                        phase.detect = time.monotonic() - injected
                    await asyncio.sleep(0.1)
            else:
                await asyncio.sleep(self.args.down)
            back = time.monotonic()
            await restore()
            while time.monotonic() - back < 30:
                if await self.healthy(http) and self.viewer_count == expected:
                    phase.recover = time.monotonic() - back
                    break
                await asyncio.sleep(0.1)
            await self.settle(phase, stop, tasks)
        return phase

    def traffic(self, phase: Phase, http: Any, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """Start the phase's chat (``--rate`` in all) and its REST poller (5xx, video stalls)."""
        import httpx

        async def chatter() -> None:
            interval = len(self.shoppers) / self.args.rate
            while not stop.is_set():
                for shopper in self.shoppers:
                    if stop.is_set():
                        return
                    await shopper.chat()
                    await asyncio.sleep(interval / len(self.shoppers))

        async def poll() -> None:
            while not stop.is_set():
                for node in self.nodes:
                    try:
                        r = await http.get(f"{node.url}/api/livestreams/{self.show_id}")
                        if r.status_code >= 500:
                            phase.http_5xx[r.status_code] = phase.http_5xx.get(r.status_code, 0) + 1
                    except httpx.HTTPError:
                        phase.http_5xx[0] = phase.http_5xx.get(0, 0) + 1
                self.check_video(phase)
                await asyncio.sleep(0.2)

        return [asyncio.create_task(chatter()), asyncio.create_task(poll())]

    def check_video(self, phase: Phase) -> None:
        """Count a stall of the WHEP viewer's video (no frame for 3 s)."""
        if time.monotonic() - self.last_frame > 3:
            phase.video_stalls += 1
            self.last_frame = time.monotonic()

    async def healthy(self, http: Any) -> bool:
        """Both processes' ``/api/health`` say ``ok``."""
        import httpx

        for node in self.nodes:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if (await http.get(f"{node.url}/api/health")).json()["status"] != "ok":
                    return False
                continue
            return False
        return True

    async def settle(
        self, phase: Phase, stop: asyncio.Event, tasks: list[asyncio.Task[None]]
    ) -> None:
        """End the phase's traffic a second later; wait for the deliveries; count what is stored."""
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*tasks)
        await _poll(lambda: phase.acked <= phase.delivered, 10)
        phase.stored = await self.stored(phase.name)

    async def stored(self, name: str) -> int:
        from sqlalchemy import func, select

        from liveshop.storage.engine import Database
        from liveshop.storage.models import ChatMessage

        db = Database(self.pg.url)
        try:
            async with db.session() as session:
                result = await session.execute(
                    select(func.count())
                    .select_from(ChatMessage)
                    .where(ChatMessage.client_message_id.like(f"{name}|%"))
                )
                return int(result.scalar_one())
        finally:
            await db.close()

    # --- faults ------------------------------------------------------------------------------

    async def faults(self) -> list[Phase]:
        async def nothing() -> None:
            return None

        phases = [await self.run_phase("none", nothing, nothing)]
        phases.append(
            await self.run_phase(
                "redis restart",
                lambda: asyncio.to_thread(self.redis.stop),
                lambda: asyncio.to_thread(self.redis.start),
            )
        )
        phases.append(
            await self.run_phase(
                "postgres restart",
                lambda: asyncio.to_thread(self.pg.stop),
                lambda: asyncio.to_thread(self.pg.start),
            )
        )
        if self.disk_error is not None:
            phases.append(Phase("disk full", skipped=f"skipped: {self.disk_error}"))
        else:
            filler = self.media / "filler"

            async def fill() -> None:
                await asyncio.to_thread(_fill, filler, DISK_HEADROOM)

            async def empty() -> None:
                filler.unlink()

            phases.append(await self.run_phase("disk full", fill, empty))
        return phases

    async def run(self) -> list[Phase]:
        await self.show()
        expected = len(self.shoppers) + len(self.observers)
        await _poll(lambda: self.viewer_count == expected, 20)
        try:
            return await self.faults()
        finally:
            self.closing = True
            for shopper in [*self.shoppers, *self.observers.values(), self.seller]:
                await shopper.close()
            await self.close_media()

    async def close_media(self) -> None:
        self.watcher.cancel()
        await self.publisher.close()
        await self.viewer.close()


async def _poll(check: Callable[[], bool], timeout: float) -> bool:
    """Wait until ``check()`` is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)


def _fill(path: Path, leave: int) -> None:
    size = max(0, shutil.disk_usage(path.parent).free - leave)
    with path.open("wb") as f:
        while size > 0:
            f.write(b"\0" * min(size, 1 << 20))
            size -= 1 << 20


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(phases: list[Phase]) -> bool:
    """Print the table; True when every row kept acknowledged == stored == delivered."""
    head = (
        f"{'fault':18} {'detect s':>9} {'recover s':>10} {'acked':>6} {'stored':>7} "
        f"{'delivered':>10} {'equal':>6} {'refused':>8} {'viewers lost':>13}  client errors"
    )
    print(head)
    good = True
    for p in phases:
        if p.skipped:
            print(f"{p.name:18} {p.skipped}")
            continue
        equal = len(p.acked) == p.stored == len(p.delivered & p.acked) == len(p.delivered)
        good = good and equal and p.recover is not None
        errors = [f"HTTP {k or 'conn'}×{v}" for k, v in sorted(p.http_5xx.items())]
        errors += [f"ws {k}×{v}" for k, v in sorted(p.ws_errors.items())]
        lost = p.sockets_lost + p.video_stalls
        print(
            f"{p.name:18} {_seconds(p.detect):>9} {_seconds(p.recover):>10} {len(p.acked):>6} "
            f"{p.stored:>7} {len(p.delivered):>10} {'yes' if equal else 'NO':>6} "
            f"{len(p.refused - p.acked):>8} {lost:>13}  {', '.join(errors) or 'none'}"
        )
    return good


def run_suite(kind: type[Chaos], args: argparse.Namespace) -> list[Phase]:
    """One show on fresh services and processes through ``kind``'s faults."""
    work = Path(tempfile.mkdtemp(prefix="liveshop-chaos-"))
    chaos = kind(args, work)
    try:
        chaos.start_services()
        chaos.start_nodes()
        return asyncio.run(chaos.run())
    finally:
        chaos.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument(
        "--down", type=float, default=6.0, help="seconds each fault lasts (not the Janus rows)"
    )
    parser.add_argument("--shoppers", type=int, default=10, help="chatting shoppers (+2 observers)")
    parser.add_argument("--rate", type=float, default=5.0, help="chat messages per second in all")
    parser.add_argument(
        "--only",
        choices=("services", "janus"),
        help="only the Redis / PostgreSQL / disk rows, or only the Janus rows (janus mode)",
    )
    args = parser.parse_args(argv)
    phases: list[Phase] = []
    if args.only != "janus":
        phases += run_suite(Chaos, args)
    if args.only != "services":
        from bench._chaos_janus import JanusChaos, janus_problem

        problem = janus_problem()
        if problem is not None:
            phases.append(Phase("janus dies", skipped=f"skipped: {problem}"))
        else:
            phases += run_suite(JanusChaos, args)
    parts = [f"\n{args.shoppers} shoppers + 2 observers on two processes, {args.rate:g} chat msg/s"]
    if args.only != "janus":
        parts.append(f"each fault {args.down:g} s, 'none' is the reference row")
    if args.only != "services":
        parts.append("Janus rows: 4 WHEP viewers, recovery timed from the kill")
    print("; ".join(parts))
    ok = report(phases)
    print(
        "\nacknowledged == stored == delivered, and recovered, in every row:", "yes" if ok else "NO"
    )
    for phase in phases:
        for note in phase.notes:
            print(note)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
