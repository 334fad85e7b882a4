"""A peer for the TURN and link tests, run inside a network namespace
(``python -m tests.internet.turn_peer``).

* ``publish URL EMAIL PASSWORD``: start a show and publish a synthetic stream over WHIP; prints
  ``live <show id>`` and keeps publishing until stdin closes.
* ``watch URL [--no-turn | --only=SCHEME]``: a guest watches over WHEP with the ICE servers of
  ``/api/config`` (without its TURN entry with ``--no-turn``; keeping only the TURN URLs of one
  scheme, ``turn`` or ``turns``, with ``--only``); prints ``{"frames": n, "state": s}`` once 10
  frames arrived or the connection failed (with ``--seconds=S``: keeps receiving for S seconds
  after the 10th frame first). aiortc uses the first TURN URL it can.
* ``stats URL EMAIL PASSWORD MIN``: as the seller, polls the active show's ``/stats`` until the
  viewers' median loss reaches MIN percent (30 s at most); prints the last answer.
* ``allocate URL``: asks ``/api/config`` for a TURN credential and allocates a relay over TCP with
  it, then with the same credential made to have expired; prints ``{"fresh": …, "expired": …}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any
from urllib.parse import urlparse

import httpx
from aioice import turn
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from liveshop.media.synthetic import IndexedVideoTrack, answer, offer

TIMEOUT = 40.0


async def publish(url: str, email: str, password: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        token = (
            await http.post("/api/auth/login", json={"email": email, "password": password})
        ).json()["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        show = (
            await http.post("/api/livestreams", json={"title": "TURN"}, headers=headers)
        ).json()["livestream"]["id"]
        pc = RTCPeerConnection()
        pc.addTransceiver(IndexedVideoTrack(), direction="sendonly")
        r = await http.post(
            f"/api/livestreams/{show}/whip",
            content=await offer(pc),
            headers={**headers, "Content-Type": "application/sdp"},
        )
        assert r.status_code == 201, r.text
        await answer(pc, r.text)
        print(f"live {show}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await pc.close()


def ice_servers(
    config: dict[str, Any], use_turn: bool, only: str | None = None
) -> list[RTCIceServer]:
    servers = []
    for entry in config["iceServers"]:
        if "credential" in entry and not use_turn:
            continue
        urls = [entry["urls"]] if isinstance(entry["urls"], str) else entry["urls"]
        if "credential" in entry and only:
            urls = [u for u in urls if u.split(":", 1)[0] == only]
        servers.append(
            RTCIceServer(
                urls=urls,
                username=entry.get("username"),
                credential=entry.get("credential"),
            )
        )
    return servers


async def watch(
    url: str, use_turn: bool, only: str | None = None, seconds: float = 0.0
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        token = (await http.post("/api/auth/guest", json={"name": "Far"})).json()["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}
        config = (await http.get("/api/config", headers=headers)).json()
        show = (await http.get("/api/livestreams/active")).json()["livestream"]["id"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(config, use_turn, only)))
        loop = asyncio.get_running_loop()
        track: asyncio.Future[Any] = loop.create_future()
        failed: asyncio.Future[None] = loop.create_future()
        pc.on("track", lambda t: track.done() or track.set_result(t))

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState == "failed" and not failed.done():
                failed.set_result(None)

        pc.addTransceiver("video", direction="recvonly")
        r = await http.post(
            f"/api/livestreams/{show}/whep",
            content=await offer(pc),
            headers={**headers, "Content-Type": "application/sdp"},
        )
        assert r.status_code == 201, r.text
        await answer(pc, r.text)

        async def frames() -> int:
            video = await track
            for n in range(10):
                try:
                    await video.recv()
                except MediaStreamError:
                    return n
            until = loop.time() + seconds
            with contextlib.suppress(MediaStreamError):
                while loop.time() < until:
                    await video.recv()
            return 10

        receiving = asyncio.ensure_future(frames())
        done, _ = await asyncio.wait(
            {receiving, failed}, timeout=TIMEOUT + seconds, return_when=asyncio.FIRST_COMPLETED
        )
        count = receiving.result() if receiving in done else 0
        result = {"frames": count, "state": pc.connectionState}
        receiving.cancel()
        await pc.close()
        return result


async def stats(url: str, email: str, password: str, least: float) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        login = await http.post("/api/auth/login", json={"email": email, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        show = (await http.get("/api/livestreams/active")).json()["livestream"]["id"]
        answer: dict[str, Any] = {}
        for _ in range(60):
            answer = (await http.get(f"/api/livestreams/{show}/stats", headers=headers)).json()
            if answer["viewers"] and (answer["viewerLossPct"]["p50"] or 0) >= least:
                break
            await asyncio.sleep(0.5)  # the next window of the viewer's reports
        return answer


def forge(credential: str) -> str:
    """``credential`` with its first character changed (to one it is not: it may be "x")."""
    return ("y" if credential.startswith("x") else "x") + credential[1:]


async def allocate(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        token = (await http.post("/api/auth/guest", json={"name": "Far"})).json()["accessToken"]
        config = (
            await http.get("/api/config", headers={"Authorization": f"Bearer {token}"})
        ).json()
    (entry,) = [e for e in config["iceServers"] if "credential" in e]
    address = urlparse(entry["urls"][0].split("?")[0].replace("turn:", "turn://"))
    server = (address.hostname, address.port or 3478)
    user = entry["username"].split(":", 1)[1]

    async def attempt(username: str, password: str) -> str:
        try:
            transport, _ = await turn.create_turn_endpoint(
                asyncio.DatagramProtocol, server, username, password, transport="tcp"
            )
        except Exception as exc:  # aioice raises TransactionFailed with the STUN error
            return f"refused: {exc}"
        transport.close()
        return "allocated"

    from liveshop.turn import mint

    secret = sys.argv[3]
    expired = mint(secret, user, ttl_seconds=-60)
    return {
        "fresh": await attempt(entry["username"], entry["credential"]),
        "expired": await attempt(expired.username, expired.credential),
        "forged": await attempt(entry["username"], forge(entry["credential"])),
    }


def main() -> None:
    import logging
    import os

    from aioice import stun

    logging.basicConfig(level=os.environ.get("TURN_PEER_LOG", "WARNING"))
    # a connectivity check gives up after 3 retransmissions (7.5 s) instead of 6 (63.5 s), so a
    # viewer with no usable path reaches "failed" quickly; the same for both watch modes
    stun.RETRY_MAX = 3
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "publish":
        asyncio.run(publish(url, sys.argv[3], sys.argv[4]))
    elif mode == "watch":
        only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)
        seconds = next(
            (float(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--seconds=")), 0
        )
        result = asyncio.run(watch(url, "--no-turn" not in sys.argv, only, seconds))
        print(json.dumps(result), flush=True)
    elif mode == "stats":
        answer = asyncio.run(stats(url, sys.argv[3], sys.argv[4], float(sys.argv[5])))
        print(json.dumps(answer), flush=True)
    else:
        print(json.dumps(asyncio.run(allocate(url))), flush=True)


if __name__ == "__main__":
    main()
