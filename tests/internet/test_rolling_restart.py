"""Rolling restart: `serve --workers 2` on PostgreSQL + Redis, 200 shoppers chatting, SIGHUP
replaces each worker in turn; every shopper reconnects and ends with the database's chat."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from liveshop.storage import chat
from liveshop.storage.engine import Database
from tests.conftest import REDIS_HOST, REDIS_PORT, _truncate_pg, require
from tests.medianet import subprocess_env
from tests.processes import free_port

SHOPPERS = 200
SECRET = "rolling-restart-" + uuid.uuid4().hex + uuid.uuid4().hex
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


class Shopper:
    """A WebSocket shopper: chats every ``interval`` seconds; on a close it reconnects at once,
    resumes with afterMessageId (its highest id), skips ids it holds (a resume resends the few
    seconds before that id: another process may have committed a lower id late), and resends only
    its messages the resume snapshot lacks."""

    def __init__(self, url: str, token: str, user_id: str, show: int, index: int) -> None:
        self.url, self.token, self.user_id, self.show, self.index = url, token, user_id, show, index
        self.history: list[int] = []  # chat message ids, in the order received, each once
        self.seen: set[int] = set()
        self.live_duplicates = 0  # chat_message frames for an id already held: a server bug
        # for a failure's report: how each id first came (connection number, "snapshot"/"live")
        self.origin: dict[int, tuple[int, str]] = {}
        self.duplicates: list[tuple[int, int, tuple[int, str] | None]] = []
        self.resumes: list[int] = []  # the afterMessageId of each resume (for a failure's report)
        self.unacked: dict[str, str] = {}  # clientMessageId → text
        self.close_codes: list[int | None] = []
        self.ws: Any = None
        self.joined = asyncio.Event()
        self.sent = 0

    def _take(self, message: dict[str, Any]) -> None:
        if message["id"] in self.seen:
            return
        self.seen.add(message["id"])
        self.history.append(message["id"])
        if message.get("user", {}).get("id") == self.user_id:
            self.unacked.pop(message.get("clientMessageId") or "", None)

    async def _send(self, cid: str) -> None:
        frame = {"type": "chat_send", "text": self.unacked[cid], "clientMessageId": cid}
        with contextlib.suppress(websockets.ConnectionClosed):  # resent after the next resume
            await self.ws.send(json.dumps(frame))

    async def say(self) -> None:
        self.sent += 1
        cid = f"s{self.index}-{self.sent}"
        self.unacked[cid] = f"shopper {self.index} message {self.sent}"
        if self.joined.is_set():
            await self._send(cid)

    async def connection(self) -> None:
        """One connection's life: join (resuming), resend what is missing, read until closed."""
        async with websockets.connect(f"{self.url}?token={self.token}") as ws:
            self.ws = ws
            join: dict[str, Any] = {"type": "join", "livestreamId": self.show}
            if self.seen:
                join["afterMessageId"] = max(self.seen)
                self.resumes.append(join["afterMessageId"])
            await ws.send(json.dumps(join))
            try:
                async for raw in ws:
                    event = json.loads(raw)
                    for e in event["events"] if event.get("type") == "batch" else [event]:
                        if e.get("type") == "snapshot":
                            for message in e["recentChat"]:
                                self.origin.setdefault(
                                    message["id"], (len(self.close_codes), "snapshot")
                                )
                                self._take(message)
                            self.joined.set()
                            for cid in list(self.unacked):
                                await self._send(cid)
                        elif e.get("type") == "chat_message":
                            if e["id"] in self.seen:
                                self.live_duplicates += 1
                                self.duplicates.append(
                                    (e["id"], len(self.close_codes), self.origin.get(e["id"]))
                                )
                            self.origin.setdefault(e["id"], (len(self.close_codes), "live"))
                            self._take(e)
            finally:
                self.joined.clear()
                self.close_codes.append(ws.close_code)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # refused while the listener is between workers: try again at once
            with contextlib.suppress(
                OSError, websockets.InvalidHandshake, websockets.ConnectionClosed
            ):
                await self.connection()


def start_serve(root: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "liveshop.cli",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("wb"),
        start_new_session=True,
    )


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def create_admin(env: dict[str, str], root: Path) -> None:
    admin = subprocess.run(
        [sys.executable, "-m", "liveshop.cli", "create-admin", "--email", "seller@example.com"],
        env=env,
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert admin.returncode == 0, admin.stderr


async def test_rolling_restart_of_two_workers_loses_no_chat_message(
    pg_migrated: str, tmp_path: Path
) -> None:
    """SIGHUP restarts both workers in turn mid-chat; each shopper's history equals the database's."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    await _truncate_pg(pg_migrated)
    port = free_port()
    # subprocess_env: 200 test shoppers share one address, so the per-address limits are off
    env = subprocess_env({k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}) | {
        "LIVESHOP_DATABASE_URL": pg_migrated,
        "LIVESHOP_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        "LIVESHOP_REDIS_PREFIX": f"rr-{uuid.uuid4().hex[:8]}:",
        "LIVESHOP_SECRET_KEY": SECRET,
        "LIVESHOP_DATA_DIR": str(tmp_path / "data"),
        "LIVESHOP_ADMIN_PASSWORD": "rolling restart pass",
    }
    await asyncio.to_thread(create_admin, env, tmp_path)
    proc = start_serve(tmp_path, env, port)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "stderr.log"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get("/api/health")).json().get("broker") == "redis":
                        break
                except (httpx.TransportError, ValueError):
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.2)
            login = await http.post(
                "/api/auth/login",
                json={"email": "seller@example.com", "password": "rolling restart pass"},
            )
            seller = {"Authorization": f"Bearer {login.json()['accessToken']}"}
            show = (
                await http.post("/api/livestreams", json={"title": "Live"}, headers=seller)
            ).json()["livestream"]["id"]
            shoppers = []
            for i in range(SHOPPERS):
                guest = (await http.post("/api/auth/guest", json={"name": f"S{i}"})).json()
                shoppers.append(
                    Shopper(
                        f"ws://127.0.0.1:{port}/ws",
                        guest["accessToken"],
                        guest["user"]["id"],
                        show,
                        i,
                    )
                )
        stop = asyncio.Event()
        runners = [asyncio.create_task(s.run(stop)) for s in shoppers]
        await wait_until(
            lambda: all(s.joined.is_set() for s in shoppers), 60, "every shopper to join"
        )

        async def chatter() -> None:
            while not stop.is_set():
                for s in shoppers:
                    await s.say()
                    await asyncio.sleep(1.5 / SHOPPERS)  # pacing: each shopper about every 1.5 s

        talking = asyncio.create_task(chatter())
        await wait_until(lambda: sum(s.sent for s in shoppers) >= SHOPPERS, 30, "a first round")
        proc.send_signal(signal.SIGHUP)  # `systemctl reload liveshop`: replace each worker in turn
        await wait_until(
            lambda: log.read_text().count("Finished server process") >= 2,
            120,
            "both workers replaced",
        )
        await wait_until(lambda: all(s.joined.is_set() for s in shoppers), 60, "every shopper back")
        sent_before_stop = sum(s.sent for s in shoppers)
        await wait_until(
            lambda: sum(s.sent for s in shoppers) >= sent_before_stop + SHOPPERS,
            30,
            "a round after",
        )
        stop.set()
        await talking
        await wait_until(
            lambda: not any(s.unacked for s in shoppers), 60, "every message acknowledged"
        )

        db = Database(pg_migrated)
        try:
            async with db.session() as session:
                stored = await chat.after(session, show, after_id=None, limit=100_000)
        finally:
            await db.close()
        ids = [m.id for m in stored]
        total = sum(s.sent for s in shoppers)
        assert len(ids) == total, (len(ids), total)  # nothing lost, nothing stored twice
        assert len({(m.user_id, m.client_message_id) for m in stored}) == total
        try:
            await wait_until(
                lambda: all(len(s.history) >= len(ids) for s in shoppers),
                60,
                "every shopper to catch up",
            )
        except AssertionError:
            missing = {s.index: sorted(set(ids) - s.seen) for s in shoppers if set(ids) - s.seen}
            by_id: dict[int, int] = {}
            for gone in missing.values():
                for i in gone:
                    by_id[i] = by_id.get(i, 0) + 1
            raise AssertionError(
                f"{len(missing)} shoppers lack messages; ids lacked (by how many): {by_id}; "
                f"e.g. shopper {next(iter(missing))} resumed after "
                f"{shoppers[next(iter(missing))].resumes} and lacks {next(iter(missing.values()))}"
                f"; newest id {ids[-1]}; its last 5 received {shoppers[next(iter(missing))].history[-5:]}"
                f"\nserver log:\n{log.read_text()[-4000:]}"
            ) from None
        twice = {s.index: s.duplicates for s in shoppers if s.duplicates}
        recovered = [line for line in log.read_text().splitlines() if "passed on" in line]
        assert not twice, (
            f"{len(twice)} shoppers got a message twice: (id, on connection, first got on) "
            f"{dict(list(twice.items())[:8])}; resumes {[shoppers[i].resumes for i in list(twice)[:8]]}"
            f"; server: {recovered[-10:]}"
        )
        for s in shoppers:
            assert 1012 in s.close_codes, s.close_codes  # every shopper was restarted away
            # each message once (processes publish concurrently, so arrival order is not id order)
            assert s.live_duplicates == 0, (
                f"shopper {s.index} got (id, on connection, first got on) {s.duplicates} "
                f"again, resuming after {s.resumes}"
            )
            assert sorted(s.history) == ids, f"shopper {s.index}: history differs from the database"
        for task in runners:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
