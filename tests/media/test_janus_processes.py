"""Two ``liveshop serve`` processes in ``janus`` mode on PostgreSQL + Redis and two real Janus."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection

from liveshop.media.synthetic import answer, offer
from tests.conftest import (
    PG_HOST,
    PG_PORT,
    REDIS_HOST,
    REDIS_PORT,
    _truncate_pg,
    in_thread,
    require,
)
from tests.hub.conftest import Client
from tests.media.janus_fixture import JanusCluster
from tests.media.peers import TIMEOUT, Publisher, Viewer
from tests.processes import Proc, seller_token, serve
from tests.waiting import until

pytestmark = pytest.mark.slow  # two servers


@pytest.fixture
def servers(pg_migrated: str, janus_pair: JanusCluster, tmp_path: Path) -> Iterator[list[Proc]]:
    """Processes A and B in janus mode sharing the test database, a Redis prefix and the Janus pair."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    require("PostgreSQL", PG_HOST, PG_PORT)
    in_thread(lambda: asyncio.run(_truncate_pg(pg_migrated)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESHOP_")}
    env.update(
        LIVESHOP_DATABASE_URL=pg_migrated,
        LIVESHOP_REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        LIVESHOP_REDIS_PREFIX=f"jp{uuid.uuid4().hex[:8]}:",
        LIVESHOP_SECRET_KEY="janus-process-test-secret-" + "k" * 32,
        LIVESHOP_ENV="test",
        LIVESHOP_MEDIA_MODE="janus",
        LIVESHOP_JANUS_URLS=",".join(janus_pair.urls),
        LIVESHOP_JANUS_API_SECRET=janus_pair.api_secret,
        LIVESHOP_JANUS_ADMIN_SECRET=janus_pair.admin_key,
        LIVESHOP_MEDIA_ADDRESSES=janus_pair.namespace.near,
    )
    with serve(env, tmp_path) as procs:
        yield procs


async def _sdp_exchange(
    http: httpx.AsyncClient, url: str, token: str, pc: RTCPeerConnection
) -> str:
    r = await http.post(
        url,
        content=await offer(pc),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
    )
    assert r.status_code == 201, r.text
    await answer(pc, r.text)
    return r.headers["Location"]


async def _no_viewers(http: httpx.AsyncClient, proc: Proc, show: int, auth: dict[str, str]) -> bool:
    stats = await http.get(f"{proc.url}/api/livestreams/{show}/stats", headers=auth)
    return bool(stats.json()["viewers"] == 0)


async def _live_show(
    http: httpx.AsyncClient, a: Proc, b: Proc, pg_migrated: str, publisher: Publisher
) -> tuple[int, dict[str, str], str]:
    """A seller, a show published through A, live on B too; (show id, admin headers, guest token)."""
    admin = await seller_token(pg_migrated, a.url, http)
    auth = {"Authorization": f"Bearer {admin}"}
    r = await http.post(f"{a.url}/api/livestreams", json={"title": "Janus"}, headers=auth)
    show: int = r.json()["livestream"]["id"]
    r = await http.post(f"{b.url}/api/auth/guest", json={"name": "OnB"})
    guest: str = r.json()["accessToken"]
    shopper = Client(await websockets.connect(f"{b.ws}?token={guest}"))
    try:
        await shopper.join(show)
        await _sdp_exchange(http, f"{a.url}/api/livestreams/{show}/whip", admin, publisher.pc)
        # B's sockets hear of it once the show is live for every process
        await shopper.wait_type("webrtc_broadcast_start", timeout=TIMEOUT)
    finally:
        await shopper.close()
    return show, auth, guest


async def test_published_through_one_watched_through_the_other(
    servers: list[Proc], pg_migrated: str
) -> None:
    """WHIP through A, WHEP through B: frames decode, both count it, a DELETE through A ends it."""
    a, b = servers
    publisher, viewer = Publisher(), Viewer()
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            show, auth, guest = await _live_show(http, a, b, pg_migrated, publisher)
            location = await _sdp_exchange(
                http, f"{b.url}/api/livestreams/{show}/whep", guest, viewer.pc
            )
            indices = await viewer.frame_indices(20)
            assert indices == sorted(indices) and len(set(indices)) == 20
            for proc in (a, b):
                stats = await http.get(f"{proc.url}/api/livestreams/{show}/stats", headers=auth)
                assert stats.json()["viewers"] == 1, (proc.url, stats.json())
            r = await http.delete(
                f"{a.url}{location}", headers={"Authorization": f"Bearer {guest}"}
            )
            assert r.status_code == 200, r.text
            await viewer.until_ended()
            for proc in (a, b):  # B follows Janus's detach on its own long poll
                await until(
                    lambda proc=proc: _no_viewers(http, proc, show, auth),
                    message=f"{proc.url} to stop counting the viewer",
                )
        finally:
            await viewer.pc.close()
            await publisher.pc.close()


async def test_a_killed_process_leaves_the_viewer_count(
    servers: list[Proc], pg_migrated: str
) -> None:
    """B killed with SIGKILL: its viewer leaves A's count within 15 s; A's publisher stats remain."""
    a, b = servers
    publisher, viewer = Publisher(), Viewer()
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            show, auth, guest = await _live_show(http, a, b, pg_migrated, publisher)
            await _sdp_exchange(http, f"{b.url}/api/livestreams/{show}/whep", guest, viewer.pc)
            await viewer.frame_indices(5)
            stats = await http.get(f"{a.url}/api/livestreams/{show}/stats", headers=auth)
            assert stats.json()["viewers"] == 1
            b.popen.send_signal(signal.SIGKILL)
            b.popen.wait(10)
            await until(
                lambda: _no_viewers(http, a, show, auth),
                timeout=16,
                interval=0.25,
                message="A to stop counting B's viewer",
            )
            stats = await http.get(f"{a.url}/api/livestreams/{show}/stats", headers=auth)
            assert stats.json()["publisher"]["codec"] == "VP8"
        finally:
            await viewer.pc.close()
            await publisher.pc.close()
