"""The disk fills up while the server records a live show (``sfu`` mode), then space returns.

The recordings directory is a small tmpfs (``mount -t tmpfs -o size=…``, root only) that the test
fills with a file and empties again: the seller is told, live video keeps flowing, the segment
written so far stays playable, and recording resumes in a new segment.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import av
import httpx
import pytest
import websockets

from liveshop.config import Settings
from liveshop.media.synthetic import answer, offer, read_index
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    create_admin,
    start_server,
    stop_server,
)
from tests.hub.conftest import Client
from tests.media.peers import TIMEOUT
from tests.services import small_tmpfs
from tests.waiting import until

pytestmark = pytest.mark.slow

DISK_BYTES = 8 << 20
HEADROOM = 96 << 10  # what the filler leaves: a few seconds of the test's video


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs."""
    with small_tmpfs(tmp_path / "media", DISK_BYTES) as mount:
        yield mount


@pytest.fixture
async def live(
    small_disk: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[LiveServer]:
    srv, task, server = await start_server(make_settings(media_dir=small_disk))
    try:
        yield server
    finally:
        await stop_server(srv, task)


def _fill(directory: Path, leave: int) -> Path:
    """A file taking all but ``leave`` bytes of the filesystem."""
    filler = directory / "filler"
    size = max(0, shutil.disk_usage(directory).free - leave)
    with filler.open("wb") as f:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            f.write(chunk[: min(size, len(chunk))])
            size -= len(chunk)
    return filler


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_disk_full_pauses_the_recording_and_resumes_it(
    live: LiveServer, small_disk: Path
) -> None:
    """The seller hears the recording paused, video flows, the part written plays, and a new
    segment starts when space returns."""
    from tests.api.test_media_http import publisher, viewer

    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        await create_admin(live)
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        admin = (await http.post("/api/auth/login", json=login)).json()["accessToken"]
        auth = {"Authorization": f"Bearer {admin}"}
        sdp = {**auth, "Content-Type": "application/sdp"}
        show = (await http.post("/api/livestreams", json={"title": "Full"}, headers=auth)).json()[
            "livestream"
        ]["id"]
        seller = Client(await websockets.connect(f"{live.ws_url}?token={admin}"))
        pub, (pc, tracks) = publisher(), viewer()
        try:
            await seller.join(show)
            r = await http.post(
                f"/api/livestreams/{show}/whip", content=await offer(pub), headers=sdp
            )
            await answer(pub, r.text)
            # WHEP is 409 "not live" until the publisher's connection is up
            await seller.wait_type("webrtc_broadcast_start", timeout=TIMEOUT)
            r = await http.post(
                f"/api/livestreams/{show}/whep", content=await offer(pc), headers=sdp
            )
            assert r.status_code == 201, r.text
            await answer(pc, r.text)
            video = await asyncio.wait_for(tracks["video"], TIMEOUT)
            for _ in range(20):  # the recording has started
                await asyncio.wait_for(video.recv(), TIMEOUT)

            filler = _fill(small_disk, HEADROOM)
            paused = await seller.wait_type("recording_status", state="paused", timeout=30)
            assert paused["reason"] == "disk_full"
            disk = (await http.get("/api/health")).json()["disk"]
            assert disk == {**disk, "state": "full", "recording": "paused"}
            indices = [read_index(await asyncio.wait_for(video.recv(), TIMEOUT)) for _ in range(30)]
            assert indices == sorted(indices) and len(set(indices)) == 30  # live video goes on

            os.unlink(filler)
            await seller.wait_type("recording_status", state="recording", timeout=15)
            for _ in range(45):  # a few seconds in the new segment
                await asyncio.wait_for(video.recv(), TIMEOUT)
            await http.post(f"/api/livestreams/{show}/stop", headers=auth)
            recs = await until(
                lambda: _recordings(http, show, 2), timeout=20, message="both segments attached"
            )
            assert [r["source"] for r in recs] == ["server", "server"], recs
            folder = small_disk / "livestreams" / str(show)
            first, second = sorted(folder.glob("recording*.webm"), key=lambda f: len(f.name))
            assert _decoded_frames(first) > 10 and _decoded_frames(second) > 10
        finally:
            await seller.close()
            await pub.close()
            await pc.close()


async def _recordings(http: httpx.AsyncClient, show: int, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = (await http.get(f"/api/livestreams/{show}/recordings")).json()[
        "recordings"
    ]
    return found if len(found) >= count else []
