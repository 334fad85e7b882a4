"""A long show, watched for leaks and drift (run as ``python -m bench.soak --minutes 30``).

One ``liveshop serve`` process (SQLite, in-process broker, recording on) in a temporary directory;
a seller publishes synthetic video over WHIP (aiortc), ``--viewers`` WHEP viewers watch it,
``--shoppers`` WebSocket shoppers chat ``--rate`` messages a second in all and like now and then.
Every 10 s the bench reads the server's RSS and open file descriptors (``/proc``) and its asyncio
task count (``liveshop_event_loop_tasks`` from ``/metrics``); every chat message carries its send
time, and a sample of shoppers records how long it took to reach them (the fan-out latency).

Checked, and printed as a table (each row: after warm-up, at the end, the limit):

* RSS grows ≤ 10 % from the end of the warm-up (``--warmup`` minutes) to the end;
* file descriptors and asyncio tasks are flat (≤ 8 more at the end than after warm-up);
* fan-out p99 of the last window is ≤ 2 × the first window's + 50 ms (windows of 5 minutes, or a
  third of a shorter run, after warm-up);
* the recording, attached when the show stops, decodes to the show's duration ± 1 s;
* nothing in the server's log at ERROR (or a traceback).

Media stays on loopback (the server's and the bench's aiortc peers gather 127.0.0.1 only).
``run()`` is what ``tests/test_soak.py`` calls for its short run in the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._services import free_port, listening

SAMPLE_SECONDS = 10.0
LATENCY_SAMPLERS = 20  # shoppers that time each message's arrival
PASSWORD = "soak seller password"


@dataclass
class Sample:
    at: float  # seconds since the show started
    rss: int
    fds: int
    tasks: int


@dataclass
class Result:
    seconds: float
    warmup: float
    samples: list[Sample] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    sent: int = 0
    recording_seconds: float | None = None
    show_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, str, str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row[4] for row in self.rows)


def _p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _proc(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    rss = int(match.group(1)) * 1024 if match else 0
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Soak:
    def __init__(
        self, work: Path, minutes: float, warmup: float, shoppers: int, rate: float, viewers: int
    ) -> None:
        self.work = work
        self.result = Result(seconds=minutes * 60, warmup=warmup * 60)
        self.shoppers_n, self.rate, self.viewers_n = shoppers, rate, viewers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_token = secrets.token_urlsafe(24)
        self.db_url = f"sqlite+aiosqlite:///{work / 'data' / 'liveshop.db'}"
        self.popen: subprocess.Popen[bytes] | None = None
        self.started = self.media_started = 0.0
        self._wall0 = time.time()
        self._readers: set[asyncio.Task[None]] = set()

    # --- the server ----------------------------------------------------------------------------

    def start_server(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
        env.update(
            LIVESHOP_DATA_DIR=str(self.work / "data"),
            LIVESHOP_DATABASE_URL=self.db_url,
            LIVESHOP_SECRET_KEY=secrets.token_urlsafe(48),
            LIVESHOP_MEDIA_ADDRESSES="127.0.0.1",
            LIVESHOP_METRICS_TOKEN=self.metrics_token,
            LIVESHOP_GUEST_TOKENS_PER_MINUTE="0",
            LIVESHOP_TRUSTED_AFTER_SECONDS="0",
            LIVESHOP_ADDRESS_CHAT_PER_MINUTE="0",
            LIVESHOP_ADDRESS_LIKES_PER_MINUTE="0",
            LIVESHOP_ADDRESS_CONNECTS_PER_MINUTE="0",
        )
        self.log = self.work / "server.log"
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "liveshop.cli",
                "serve",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=self.work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        deadline = time.monotonic() + 120
        while not listening(self.port):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop_server(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()

    # --- the show ------------------------------------------------------------------------------

    async def run(self) -> Result:
        import httpx

        from liveshop.media import aiortc_internals

        aiortc_internals.restrict_host_addresses(["127.0.0.1"])
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            await self._seller_account(http)
            admin = (
                await http.post(
                    "/api/auth/login", json={"email": "seller@example.com", "password": PASSWORD}
                )
            ).json()["accessToken"]
            self.auth = {"Authorization": f"Bearer {admin}"}
            show = (
                await http.post("/api/livestreams", json={"title": "Soak"}, headers=self.auth)
            ).json()["livestream"]["id"]
            sockets = await self._shoppers(http, show)
            media = await self._media_child(show, admin)
            self.started = time.monotonic()
            self._wall0 = time.time()
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(self._chat(sockets, stop)),
                asyncio.create_task(self._sample(http, stop)),
            ]
            await asyncio.sleep(self.result.seconds)
            stop.set()
            await asyncio.gather(*tasks)
            self.result.show_seconds = time.monotonic() - self.media_started
            await http.post(f"/api/livestreams/{show}/stop", headers=self.auth)
            self.result.recording_seconds = await self._recording(http, show)
            for ws in sockets:
                with contextlib.suppress(Exception):
                    await ws.close()
            assert media.stdin is not None
            media.stdin.close()  # the media child hangs up and exits
            try:
                await asyncio.wait_for(media.wait(), 30)
            except TimeoutError:
                media.kill()
        return self.result

    async def _media_child(self, show: int, admin: str) -> asyncio.subprocess.Process:
        """The publisher and the WHEP viewers, in their own process (their encoding and decoding
        would otherwise slow this loop's shoppers and skew the fan-out latency)."""
        child = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.soak", "--media-child", self.url, str(show), admin),
            str(self.viewers_n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        if not line.startswith(b"ready"):
            raise SystemExit("the media child did not start")
        self.media_started = time.monotonic()
        return child

    async def _seller_account(self, http: Any) -> None:
        from liveshop.security import hash_password
        from liveshop.storage import users
        from liveshop.storage.engine import Database

        db = Database(self.db_url)
        async with db.session() as session:
            await users.create_user(
                session,
                email="seller@example.com",
                name="Seller",
                role="admin",
                password_hash=await hash_password(PASSWORD),
            )
        await db.close()

    async def _shoppers(self, http: Any, show: int) -> list[Any]:
        import websockets

        sockets = []
        for i in range(self.shoppers_n):
            token = (await http.post("/api/auth/guest", json={"name": f"S{i}"})).json()[
                "accessToken"
            ]
            ws = await websockets.connect(
                f"{self.url.replace('http', 'ws')}/ws?token={token}", max_size=2**22
            )
            await ws.send(json.dumps({"type": "join", "livestreamId": show}))
            sockets.append(ws)
            reader = asyncio.create_task(self._read(ws, timed=i < LATENCY_SAMPLERS))
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        return sockets

    async def _read(self, ws: Any, timed: bool) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                if not timed:
                    continue
                now = time.time()
                event = json.loads(raw)
                for e in event["events"] if event.get("type") == "batch" else [event]:
                    if e.get("type") == "chat_message" and e.get("text", "").startswith("t="):
                        sent = float(e["text"][2:])
                        self.result.latencies.append((sent - self._wall0, now - sent))

    async def _chat(self, sockets: list[Any], stop: asyncio.Event) -> None:
        interval = 1.0 / self.rate
        while not stop.is_set():
            ws = random.choice(sockets)
            with contextlib.suppress(Exception):
                await ws.send(json.dumps({"type": "chat_send", "text": f"t={time.time():.6f}"}))
                self.result.sent += 1
                if random.random() < 0.5:
                    await random.choice(sockets).send(json.dumps({"type": "like_toggle"}))
            await asyncio.sleep(interval)

    async def _sample(self, http: Any, stop: asyncio.Event) -> None:
        assert self.popen is not None
        headers = {"Authorization": f"Bearer {self.metrics_token}"}
        while not stop.is_set():
            tasks = -1
            with contextlib.suppress(Exception):
                text = (await http.get("/metrics", headers=headers)).text
                match = re.search(
                    r"^liveshop_event_loop_tasks(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M
                )
                tasks = int(float(match.group(1))) if match else -1
            rss, fds = _proc(self.popen.pid)
            self.result.samples.append(Sample(time.monotonic() - self.started, rss, fds, tasks))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)

    async def _recording(self, http: Any, show: int) -> float | None:
        import av

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            recs = (await http.get(f"/api/livestreams/{show}/recordings")).json()["recordings"]
            if recs:
                data = (await http.get(str(recs[0]["url"]))).content
                path = self.work / "recording.webm"
                path.write_bytes(data)
                with av.open(str(path)) as container:
                    stream = container.streams.video[0]
                    last = max(
                        (p.pts for p in container.demux(stream) if p.pts is not None), default=0
                    )
                    return float(last * (stream.time_base or 0))
            await asyncio.sleep(0.5)
        return None

    # --- verdict -------------------------------------------------------------------------------

    def judge(self) -> Result:
        r = self.result
        after = [s for s in r.samples if s.at >= r.warmup] or r.samples
        if after and after[0].tasks >= 0:
            first, last = after[0], after[-1]
            growth = last.rss / first.rss - 1 if first.rss else 0.0
            r.rows.append(
                (
                    "RSS (MiB)",
                    f"{first.rss / 2**20:.0f}",
                    f"{last.rss / 2**20:.0f}",
                    "≤ +10 %",
                    growth <= 0.10,
                )
            )
            r.rows.append(
                (
                    "file descriptors",
                    str(first.fds),
                    str(last.fds),
                    "≤ +8",
                    last.fds - first.fds <= 8,
                )
            )
            r.rows.append(
                (
                    "asyncio tasks",
                    str(first.tasks),
                    str(last.tasks),
                    "≤ +8",
                    last.tasks - first.tasks <= 8,
                )
            )
        window = min(300.0, (r.seconds - r.warmup) / 3)
        early = [lat for at, lat in r.latencies if r.warmup <= at < r.warmup + window]
        late = [lat for at, lat in r.latencies if at >= r.seconds - window]
        p_early, p_late = _p99(early), _p99(late)
        r.rows.append(
            (
                f"fan-out p99 (ms, {window / 60:.1f}-min windows)",
                f"{p_early * 1000:.0f}",
                f"{p_late * 1000:.0f}",
                "≤ 2× + 50 ms",
                bool(early and late) and p_late <= 2 * p_early + 0.05,
            )
        )
        rec = r.recording_seconds
        r.rows.append(
            (
                "recording duration (s)",
                f"{r.show_seconds:.1f}",
                "missing" if rec is None else f"{rec:.1f}",
                "± 1 s",
                rec is not None and abs(rec - r.show_seconds) <= 1.0,
            )
        )
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        lines = log.splitlines()
        r.errors = [line for line in lines if "ERROR" in line or "Traceback" in line]
        r.rows.append(("ERROR lines in the log", "0", str(len(r.errors)), "0", not r.errors))
        if r.errors:  # keep the log (the work directory is removed) and show the first one
            kept = Path(tempfile.gettempdir()) / f"liveshop-soak-{os.getpid()}.log"
            shutil.copyfile(self.log, kept)
            first = next(i for i, line in enumerate(lines) if line in r.errors)
            r.errors = [f"server log kept at {kept}", *lines[max(0, first - 3) : first + 25]]
        return r


async def media_child(url: str, show: int, admin: str, viewers: int) -> None:
    """Publish and watch until stdin closes (``--media-child``); prints ``ready`` once the
    publisher is connected."""
    import httpx

    from liveshop.media import aiortc_internals

    aiortc_internals.restrict_host_addresses(["127.0.0.1"])
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        peers = await _media(http, show, admin, viewers)
        await asyncio.to_thread(sys.stdin.buffer.read)
        for pc in peers:
            await pc.close()


async def _media(http: Any, show: int, admin: str, viewers: int) -> list[Any]:
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    from liveshop.media.synthetic import IndexedVideoTrack, answer, offer

    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/sdp"}
    pub = RTCPeerConnection()
    pub.addTransceiver(IndexedVideoTrack(), direction="sendonly")
    pub.addTransceiver(AudioStreamTrack(), direction="sendonly")
    r = await http.post(f"/api/livestreams/{show}/whip", content=await offer(pub), headers=headers)
    await answer(pub, r.text)
    for _attempt in range(100):  # the recording starts about when the publisher connects
        stats = (await http.get(f"/api/livestreams/{show}/stats", headers=headers)).json()
        if stats.get("publisher"):
            break
        await asyncio.sleep(0.1)
    print("ready", flush=True)  # the recording starts about now
    peers = [pub]
    for _ in range(viewers):
        pc = RTCPeerConnection()
        pc.on("track", lambda track: _DRAINS.add(asyncio.ensure_future(_drain(track))))
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        for _attempt in range(50):  # 409 until the publisher has connected
            r = await http.post(
                f"/api/livestreams/{show}/whep", content=await offer(pc), headers=headers
            )
            if r.status_code != 409:
                break
            await asyncio.sleep(0.2)
        await answer(pc, r.text)
        peers.append(pc)
    return peers


_DRAINS: set[asyncio.Future[None]] = set()  # the media child's track readers


async def _drain(track: Any) -> None:
    with contextlib.suppress(Exception):
        while True:
            await track.recv()


def run(minutes: float, *, warmup: float, shoppers: int, rate: float, viewers: int) -> Result:
    """One soak run in a temporary directory; the judged result."""
    work = Path(tempfile.mkdtemp(prefix="liveshop-soak-"))
    soak = Soak(work, minutes, warmup, shoppers, rate, viewers)
    try:
        soak.start_server()
        asyncio.run(soak.run())
        soak.stop_server()
        return soak.judge()
    finally:
        soak.stop_server()
        shutil.rmtree(work, ignore_errors=True)


def report(result: Result) -> None:
    print(f"{'check':34} {'after warm-up':>14} {'end':>8}  {'limit':14} ok")
    for name, start, end, limit, good in result.rows:
        print(f"{name:34} {start:>14} {end:>8}  {limit:14} {'yes' if good else 'NO'}")
    print(f"chat messages sent: {result.sent}; fan-out samples: {len(result.latencies)}")
    for line in result.errors[:30]:
        print("  log:", line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--warmup", type=float, default=None, help="minutes (default: a tenth, ≤ 3)"
    )
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="chat messages per second in all")
    parser.add_argument("--viewers", type=int, default=20, help="WHEP viewers")
    parser.add_argument("--media-child", nargs=4, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.media_child:
        url, show, admin, viewers = args.media_child
        asyncio.run(media_child(url, int(show), admin, int(viewers)))
        return 0
    warmup = args.warmup if args.warmup is not None else min(3.0, args.minutes / 10)
    result = run(
        args.minutes, warmup=warmup, shoppers=args.shoppers, rate=args.rate, viewers=args.viewers
    )
    print(
        f"\n{args.minutes:g}-minute show: {args.shoppers} shoppers, {args.rate:g} chat msg/s + "
        f"likes, {args.viewers} WHEP viewers, recording; warm-up {warmup:g} min"
    )
    report(result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
