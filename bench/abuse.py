"""A scripted abuse run (run as ``python -m bench.abuse``): one hostile address against a show.

A real ``liveshop serve`` (SQLite, default limits) runs behind a trusted proxy on 127.0.0.1
(``LIVESHOP_FORWARDED_ALLOW_IPS=127.0.0.1``), so each simulated client says its own address in
``X-Forwarded-For`` — exactly how the server learns addresses behind Caddy. Nothing leaves this
machine: every connection goes to 127.0.0.1.

Two phases of ``--seconds`` each, in the same run:

1. **baseline**: 50 honest shoppers (one address each) chat every ~4 s and like once;
2. **attack**: the same honest traffic while one address mints up to 1,000 guest identities and
   floods chat, likes, Buy clicks and signalling (ICE candidates to the seller) as fast as it can.

The attacker runs in a process of its own (``python -m bench.abuse --attacker …``), as it would on
another machine: its flood loop must not slow the honest shoppers' own event loop, whose delivery
latency is what is measured.

It prints what got through against the allowance the configuration grants one address, whether
every honest message landed, and the honest shoppers' delivery latency under attack against the
baseline measured in the same run (the ratio is what holds on a shared, noisy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench._http_load import percentile
from bench.api import HOST, SERVE_LIVESHOP, Processes, Server, free_port, liveshop_env, wait_ready

ATTACKER = "198.51.100.66"
HONEST = 50
MINT_ATTEMPTS = 1000
# the defaults of the configuration (README): one address's allowance per minute
GUEST_PER_MINUTE, CHAT_PER_MINUTE, LIKES_PER_MINUTE, SIGNALS_PER_MINUTE = 20, 300, 600, 600
# per-address budgets are spent at most a sixth in any 10 s window (hub/moderation.py)
WINDOW = 10.0


def honest_address(i: int) -> str:
    return f"203.0.113.{i + 1}"


@dataclass
class Phase:
    """What the honest shoppers saw in one phase."""

    sent: set[str] = field(default_factory=set)
    landed: dict[str, int] = field(default_factory=dict)  # clientMessageId -> listeners reached
    latencies: list[float] = field(default_factory=list)  # ms, honest message to honest listener
    other_messages: dict[int, str] = field(default_factory=dict)  # message id -> author, not honest
    attacker_messages: set[int] = field(default_factory=set)


@dataclass
class Attack:
    minted: int = 0
    mint_refused: int = 0
    chat_sent: int = 0
    likes_sent: int = 0
    clicks_sent: int = 0
    clicks_counted: int = 0
    signals_sent: int = 0
    signals_delivered: int = 0
    closed: int = 0  # sockets the server closed for flooding (the attacker reconnects)
    handshakes_refused: int = 0  # reconnects answered HTTP 429 (the address's connect budget)
    identities: set[str] = field(default_factory=set)


async def guest(client: httpx.AsyncClient, address: str, name: str) -> tuple[int, dict[str, Any]]:
    r = await client.post(
        "/api/auth/guest", json={"name": name}, headers={"X-Forwarded-For": address}
    )
    return r.status_code, (r.json() if r.status_code == 200 else {})


async def connect(ws_url: str, token: str, address: str) -> Any:
    return await websockets.connect(
        f"{ws_url}?token={token}", additional_headers={"X-Forwarded-For": address}, max_size=2**22
    )


async def join(ws: Any, show: int) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "join", "livestreamId": show}))
    while True:
        event = json.loads(await ws.recv())
        if event.get("type") == "snapshot":
            return event


def events(raw: str | bytes) -> list[dict[str, Any]]:
    event = json.loads(raw)
    return event["events"] if event.get("type") == "batch" else [event]


class Honest:
    """One honest shopper: reads everything, chats every few seconds, likes once."""

    def __init__(self, i: int, ws: Any, user_id: str) -> None:
        self.i, self.ws, self.user_id = i, ws, user_id
        self.phase = Phase()
        self.liked = False

    async def read(self, listener: bool) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                now = time.monotonic()
                for event in events(raw):
                    if event.get("type") != "chat_message":
                        continue
                    ref = event.get("clientMessageId") or ""
                    if ref.startswith("h:"):
                        sent_at = float(ref.split(":")[2])
                        self.phase.latencies.append((now - sent_at) * 1000)
                        if listener:
                            self.phase.landed[ref] = self.phase.landed.get(ref, 0) + 1
                    elif listener:
                        self.phase.other_messages[event["id"]] = event["user"]["id"]

    async def talk(self, until: float, sent: set[str]) -> None:
        await asyncio.sleep((self.i % 40) / 10)  # spread the shoppers over 4 s
        n = 0
        while time.monotonic() < until - 2:
            ref = f"h:{self.i}.{n}:{time.monotonic():.6f}"
            await self.ws.send(
                json.dumps({"type": "chat_send", "text": f"hi {n}", "clientMessageId": ref})
            )
            sent.add(ref)
            n += 1
            if not self.liked and n == 2:  # past the 5 s a like needs
                await self.ws.send('{"type": "like_toggle"}')
                self.liked = True
            await asyncio.sleep(4.0)


async def attacker_flood(
    client: httpx.AsyncClient,
    ws_url: str,
    show: int,
    product: int,
    seller_peer: str,
    until: float,
    attack: Attack,
) -> None:
    """Mint identities (20 requests at a time) and flood from each one's socket as soon as it
    exists, until ``until``."""
    sockets: list[Any] = []
    running: list[asyncio.Task[None]] = []

    async def drain(ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass

    async def flood(ws: Any, k: int, token: str) -> None:
        """Send as fast as the loop allows; when the server closes the socket, reconnect."""
        i = 0
        while time.monotonic() < until:
            try:
                await burst(ws, k, i)
            except websockets.ConnectionClosed:
                attack.closed += 1
            i += 1
            try:
                ws = await connect(ws_url, token, ATTACKER)
                await join(ws, show)
            except websockets.InvalidStatus:
                attack.handshakes_refused += 1
                continue
            except Exception:
                continue
            running.append(asyncio.create_task(drain(ws)))
            sockets.append(ws)

    async def burst(ws: Any, k: int, i: int) -> None:
        """Chat, like and an ICE candidate every 20 ms until the phase ends or the socket closes."""
        while time.monotonic() < until:
            await ws.send(json.dumps({"type": "chat_send", "text": f"BUY CHEAP {k}.{i}"}))
            await ws.send('{"type": "like_toggle"}')
            candidate = {"candidate": f"candidate:{k} {i}"}
            await ws.send(
                json.dumps(
                    {"type": "webrtc_ice_candidate", "to": seller_peer, "candidate": candidate}
                )
            )
            attack.chat_sent += 1
            attack.likes_sent += 1
            attack.signals_sent += 1
            i += 1
            await asyncio.sleep(0.02)

    async def click(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": ATTACKER}
        url = f"/api/livestreams/{show}/product-clicks"
        while time.monotonic() < until:
            r = await client.post(url, json={"productId": product}, headers=headers)
            attack.clicks_sent += 1
            attack.clicks_counted += int(r.status_code == 202 and r.json().get("counted", False))
            await asyncio.sleep(0.2)

    async def start(token: str) -> None:
        try:
            ws = await connect(ws_url, token, ATTACKER)
            await join(ws, show)
        except websockets.InvalidStatus:
            attack.handshakes_refused += 1
            return
        sockets.append(ws)
        k = len(sockets)
        running.append(asyncio.create_task(drain(ws)))
        running.append(asyncio.create_task(flood(ws, k, token)))
        if k <= 5:
            running.append(asyncio.create_task(click(token)))

    async def mint(worker: int) -> None:
        for n in range(worker, MINT_ATTEMPTS, 20):
            if time.monotonic() >= until:
                return
            status, answer = await guest(client, ATTACKER, f"Shopper {n}")
            if status == 200:
                attack.identities.add(answer["user"]["id"])
                attack.minted += 1
                await start(answer["accessToken"])
            else:
                attack.mint_refused += 1

    await asyncio.gather(*(mint(w) for w in range(20)))
    for task in running:
        task.cancel()
    for ws in sockets:
        await ws.close()


async def run(base: str, seconds: float, data_dir: Path) -> dict[str, Any]:
    ws_url = base.replace("http://", "ws://") + "/ws"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        fields = dict(
            line.split(": ", 1)
            for line in (data_dir / "admin-credentials.txt").read_text().splitlines()
            if ": " in line
        )
        login = await client.post(
            "/api/auth/login", json={"email": fields["email"], "password": fields["password"]}
        )
        admin = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        show = (
            await client.post("/api/livestreams", json={"title": "Abuse run"}, headers=admin)
        ).json()["livestream"]["id"]
        product = (await client.get("/api/products")).json()["products"][0]["id"]
        await client.post(
            f"/api/livestreams/{show}/pin-product", json={"productId": product}, headers=admin
        )
        seller_ws = await connect(ws_url, login.json()["accessToken"], "192.0.2.200")
        seller_peer = (await join(seller_ws, show))["peerId"]
        attack = Attack()
        honest: list[Honest] = []
        for i in range(HONEST):
            _, answer = await guest(client, honest_address(i), f"Shopper {i}")
            ws = await connect(ws_url, answer["accessToken"], honest_address(i))
            await join(ws, show)
            honest.append(Honest(i, ws, answer["user"]["id"]))
        phases: dict[str, Phase] = {}
        for name in ("baseline", "attack"):
            for h in honest:
                h.phase = Phase()
            readers = [asyncio.create_task(h.read(listener=h.i == 0)) for h in honest]
            sent: set[str] = set()
            until = time.monotonic() + seconds
            work = [h.talk(until, sent) for h in honest]
            if name == "attack":
                flood = attack_from_another_process(base, show, product, seller_peer, seconds)
                reads = seller_reads(seller_ws, until + 2)
                attack, delivered, *_ = await asyncio.gather(flood, reads, *work)
                attack.signals_delivered = delivered
            else:
                await asyncio.gather(*work)
            await asyncio.sleep(2.0)  # let the last messages arrive before the readers stop
            for task in readers:
                task.cancel()
            phase = honest[0].phase
            phase.sent = sent
            phase.latencies = sorted(x for h in honest for x in h.phase.latencies)
            phase.attacker_messages = {
                mid for mid, author in phase.other_messages.items() if author in attack.identities
            }
            phases[name] = phase
        stream = (await client.get(f"/api/livestreams/{show}")).json()["livestream"]
        report = (await client.get(f"/api/livestreams/{show}/report", headers=admin)).json()
        for h in honest:
            await h.ws.close()
        await seller_ws.close()
    return {
        "phases": phases,
        "attack": attack,
        "stream": stream,
        "report": report,
        "seconds": seconds,
    }


async def seller_reads(seller_ws: Any, until: float) -> int:
    """The ICE candidates that reach the seller until ``until``."""
    delivered = 0
    with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
        while time.monotonic() < until:
            left = max(0.1, until - time.monotonic())
            raw = await asyncio.wait_for(seller_ws.recv(), left)
            delivered += sum(1 for e in events(raw) if e.get("type") == "webrtc_ice_candidate")
    return delivered


async def attack_from_another_process(
    base: str, show: int, product: int, seller_peer: str, seconds: float
) -> Attack:
    """Run :func:`attacker_flood` in a child process for ``seconds``; its counters."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.abuse",
        "--attacker",
        json.dumps(
            {
                "base": base,
                "show": show,
                "product": product,
                "peer": seller_peer,
                "seconds": seconds,
            }
        ),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the attacker process failed ({child.returncode})")
    fields = json.loads(out.decode().strip().splitlines()[-1])
    fields["identities"] = set(fields["identities"])
    return Attack(**fields)


async def attacker_main(spec: dict[str, Any]) -> None:
    """The attacker process: flood for ``spec["seconds"]``, then print the counters as JSON."""
    attack = Attack()
    until = time.monotonic() + spec["seconds"]
    ws_url = spec["base"].replace("http://", "ws://") + "/ws"
    async with httpx.AsyncClient(base_url=spec["base"], timeout=30) as client:
        await attacker_flood(
            client, ws_url, spec["show"], spec["product"], spec["peer"], until, attack
        )
    print(json.dumps(asdict(attack) | {"identities": sorted(attack.identities)}), flush=True)


def print_report(result: dict[str, Any]) -> bool:
    attack: Attack = result["attack"]
    seconds = result["seconds"]

    def windowed(per_minute: int, window: float) -> float:
        """The most a sliding window of ``window`` seconds lets through in the phase."""
        per_window = -(-per_minute * window // 60)
        return per_window * (seconds // window + 1)

    honest_likes = HONEST
    attacker_likes = max(0, result["stream"]["likes"] - honest_likes)
    attacker_chat = len(result["phases"]["attack"].attacker_messages)
    ids = attack.minted
    rows = [
        ("guest identities", MINT_ATTEMPTS, attack.minted, windowed(GUEST_PER_MINUTE, 60)),
        (
            "chat messages stored",
            attack.chat_sent,
            attacker_chat,
            windowed(CHAT_PER_MINUTE, WINDOW),
        ),
        ("likes counted", attack.likes_sent, attacker_likes, ids),
        # once per identity, product and clock minute, from the 5 identities that click
        ("Buy clicks counted", attack.clicks_sent, attack.clicks_counted, 5 * (seconds // 60 + 2)),
        (
            "ICE candidates to the seller",
            attack.signals_sent,
            attack.signals_delivered,
            windowed(SIGNALS_PER_MINUTE, WINDOW),
        ),
    ]
    print(f"\nattacker (one address, {result['seconds']:.0f} s)")
    print(f"{'what':32} {'attempted':>10} {'got through':>12} {'allowance':>10}  ok")
    ok = True
    for what, tried, through, allowance in rows:
        good = through <= allowance
        ok &= good
        print(f"{what:32} {tried:>10} {through:>12} {allowance:>10.0f}  {'yes' if good else 'NO'}")
    viewers = result["report"]["peakViewers"]
    print(
        f"{'peak viewers (honest ' + str(HONEST) + ')':32} {'':>10} {viewers:>12} {HONEST + ids:>10}  {'yes' if viewers <= HONEST + ids else 'NO'}"
    )
    print(f"unique client addresses in the report: {result['report'].get('uniqueAddresses')}")
    print(f"attacker sockets closed for flooding (it reconnected each time): {attack.closed}")
    print(f"attacker reconnects refused at the handshake (HTTP 429): {attack.handshakes_refused}")
    print(f"\nhonest shoppers ({HONEST}, one address each)")
    print(f"{'phase':10} {'sent':>6} {'landed':>7} {'deliveries':>11} {'p50 ms':>8} {'p99 ms':>8}")
    p99 = {}
    for name, phase in result["phases"].items():
        landed = sum(1 for ref in phase.sent if phase.landed.get(ref))
        lat = phase.latencies
        p50, p99[name] = (
            percentile(lat, 0.5) if lat else float("nan"),
            percentile(lat, 0.99) if lat else float("nan"),
        )
        ok &= landed == len(phase.sent)
        print(
            f"{name:10} {len(phase.sent):>6} {landed:>7} {len(lat):>11} {p50:>8.0f} {p99[name]:>8.0f}"
        )
    ratio = p99["attack"] / p99["baseline"] if p99["baseline"] else float("nan")
    under = p99["attack"] <= 250
    ok &= under
    print(
        f"\np99 delivery to honest shoppers under attack: {p99['attack']:.0f} ms (target ≤ 250 ms: {'MET' if under else 'MISSED'}); under attack / baseline = {ratio:.2f}"
    )
    print(
        "result:",
        "every allowance held and every honest message landed" if ok else "SOMETHING GOT THROUGH",
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.abuse", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="length of each phase (default 60)"
    )
    parser.add_argument("--attacker", help=argparse.SUPPRESS)  # the attacker process (JSON spec)
    args = parser.parse_args(argv)
    if args.attacker:
        asyncio.run(attacker_main(json.loads(args.attacker)))
        return 0
    with tempfile.TemporaryDirectory(prefix="liveshop-abuse-") as tmp, Processes() as procs:
        work = Path(tmp)
        port = free_port()
        env = liveshop_env(work / "data") | {"LIVESHOP_FORWARDED_ALLOW_IPS": "127.0.0.1"}
        log = work / "liveshop.log"
        with log.open("wb") as out:
            process = procs.start(
                [
                    sys.executable,
                    "-m",
                    "bench.api",
                    SERVE_LIVESHOP,
                    "serve",
                    "--demo",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                ],
                cpu=0,
                env=env,
                cwd=work,
                stdout=out,
            )
        server = Server("liveshop", port, process, log)
        wait_ready(server, "/api/health")
        result = asyncio.run(run(server.base, args.seconds, work / "data"))
    return 0 if print_report(result) else 1


if __name__ == "__main__":
    raise SystemExit(main())
