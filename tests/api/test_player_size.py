"""POST /api/livestreams/{id}/whep/{session}/player and /playback: a viewer reports its player's
size and how its playback goes (sfu)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack

from liveshop.config import Settings
from liveshop.media.synthetic import IndexedVideoTrack, answer, offer
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    create_admin,
    start_server,
    stop_server,
)
from tests.waiting import until


@pytest.fixture
async def http(make_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    srv, task, live = await start_server(make_settings())
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            await create_admin(live)
            r = await client.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            client.headers["Authorization"] = f"Bearer {r.json()['accessToken']}"
            yield client
    finally:
        await stop_server(srv, task)


async def post_sdp(http: httpx.AsyncClient, url: str, pc: RTCPeerConnection) -> str:
    r = await http.post(url, content=await offer(pc), headers={"Content-Type": "application/sdp"})
    assert r.status_code == 201, r.text
    await answer(pc, r.text)
    return str(r.headers["location"])


async def watching(http: httpx.AsyncClient, show: int, viewers: list[RTCPeerConnection]) -> str:
    """A new aiortc viewer of ``show`` once it is live (kept in ``viewers``); its session URL."""

    async def watch() -> str | None:
        viewer = RTCPeerConnection()
        viewers.append(viewer)
        viewer.addTransceiver("video", direction="recvonly")
        viewer.addTransceiver("audio", direction="recvonly")
        r = await http.post(
            f"/api/livestreams/{show}/whep",
            content=await offer(viewer),
            headers={"Content-Type": "application/sdp"},
        )
        if r.status_code != 201:
            return None
        await answer(viewer, r.text)
        return str(r.headers["location"])

    location: str = await until(watch, timeout=20, message="a live show to watch")
    return location


@pytest.fixture
async def watched(http: httpx.AsyncClient) -> AsyncIterator[tuple[int, str]]:
    """A live show (an aiortc publisher over WHIP) and one aiortc viewer's WHEP session URL."""
    show = (await http.post("/api/livestreams", json={"title": "Live"})).json()["livestream"]["id"]
    pub = RTCPeerConnection()
    pub.addTransceiver(IndexedVideoTrack(), direction="sendonly")
    pub.addTransceiver(AudioStreamTrack(), direction="sendonly")
    viewers: list[RTCPeerConnection] = []
    try:
        await post_sdp(http, f"/api/livestreams/{show}/whip", pub)
        yield show, await watching(http, show, viewers)
    finally:
        for viewer in viewers:
            await viewer.close()
        await pub.close()


async def test_player_size_of_a_viewer_session(
    http: httpx.AsyncClient, watched: tuple[int, str]
) -> None:
    """A watching session's size is accepted (204); an unknown session is 404, a bad body 422."""
    show, location = watched
    ok = await http.post(f"{location}/player", json={"width": 640, "height": 360})
    assert ok.status_code == 204
    assert (await http.post(f"{location}/player", json={"height": None})).status_code == 204
    unknown = await http.post(f"/api/livestreams/{show}/whep/nope/player", json={"height": 1})
    assert unknown.status_code == 404 and "detail" in unknown.json()
    bad = await http.post(f"{location}/player", json={"height": -5})
    assert bad.status_code == 422 and "detail" in bad.json()


async def test_playback_of_a_viewer_session_shows_in_its_link(
    http: httpx.AsyncClient, watched: tuple[int, str]
) -> None:
    """A viewer's reported freezes and frames show in the stats route's ``viewerLinks``; an
    unknown session is 404, a negative count 422."""
    show, location = watched

    async def links() -> list[dict[str, object]]:
        stats = (await http.get(f"/api/livestreams/{show}/stats")).json()
        return list(stats["viewerLinks"])

    assert (await until(links, timeout=10))[0]["freezes"] is None  # nothing reported yet
    body = {"freezes": 2, "freezeSeconds": 0.75, "framesDecoded": 420}
    assert (await http.post(f"{location}/playback", json=body)).status_code == 204
    link = (await links())[0]
    assert (link["freezes"], link["freezeSeconds"], link["framesDecoded"]) == (2, 0.75, 420)
    unknown = await http.post(f"/api/livestreams/{show}/whep/nope/playback", json=body)
    assert unknown.status_code == 404 and "detail" in unknown.json()
    bad = await http.post(f"{location}/playback", json={**body, "freezes": -1})
    assert bad.status_code == 422 and "detail" in bad.json()
