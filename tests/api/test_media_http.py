"""WHIP/WHEP over real HTTP with real aiortc peers, the stats route, and the p2p signalling path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError

from liveshop.config import Settings
from liveshop.media.synthetic import IndexedVideoTrack, answer, offer, read_index
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    create_admin,
    start_server,
    stop_server,
)
from tests.hub.conftest import Client
from tests.media.janus_fixture import janus_pair as janus_pair
from tests.waiting import until

TIMEOUT = 10.0


class Env:
    def __init__(self, server: LiveServer, http: httpx.AsyncClient, admin: str) -> None:
        self.server, self.http, self.admin_token = server, http, admin
        self.admin = {"Authorization": f"Bearer {admin}"}

    async def guest(self) -> dict[str, str]:
        token = (await self.http.post("/api/auth/guest", json={"name": "V"})).json()["accessToken"]
        return {"Authorization": f"Bearer {token}"}

    async def show(self) -> int:
        r = await self.http.post("/api/livestreams", json={"title": "Live"}, headers=self.admin)
        show_id: int = r.json()["livestream"]["id"]
        return show_id


async def _env(settings: Settings, host: str = "127.0.0.1") -> AsyncIterator[Env]:
    srv, task, live = await start_server(settings, host=host)
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            await create_admin(live)
            r = await http.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            yield Env(live, http, r.json()["accessToken"])
    finally:
        await stop_server(srv, task)


@pytest.fixture
async def sfu(make_settings: Callable[..., Settings]) -> AsyncIterator[Env]:
    async for env in _env(make_settings()):
        yield env


@pytest.fixture
async def p2p(make_settings: Callable[..., Settings]) -> AsyncIterator[Env]:
    async for env in _env(make_settings(media_mode="p2p")):
        yield env


def publisher() -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTransceiver(IndexedVideoTrack(), direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    return pc


def viewer() -> tuple[RTCPeerConnection, dict[str, asyncio.Future[Any]]]:
    """A recvonly peer; ``tracks[kind]`` resolves when that track arrives."""
    pc = RTCPeerConnection()
    loop = asyncio.get_running_loop()
    tracks: dict[str, asyncio.Future[Any]] = {
        "video": loop.create_future(),
        "audio": loop.create_future(),
    }
    pc.on("track", lambda track: tracks[track.kind].set_result(track))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    return pc, tracks


async def post_sdp(env: Env, url: str, sdp: str, headers: dict[str, str]) -> httpx.Response:
    return await env.http.post(
        url, content=sdp, headers={**headers, "Content-Type": "application/sdp"}
    )


async def test_whip_then_whep_delivers_frames_and_stop_records(sfu: Env) -> None:
    """Publish over WHIP, watch over WHEP (frames in order); stop ends viewers and records the show."""
    show = await sfu.show()
    ws = Client(
        await websockets.connect(f"{sfu.server.ws_url}?token={sfu.admin_token}")
    )  # the studio
    await ws.join(show)
    pub = publisher()
    r = await post_sdp(sfu, f"/api/livestreams/{show}/whip", await offer(pub), sfu.admin)
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/sdp")
    assert r.headers["location"].startswith(f"/api/livestreams/{show}/whip/")
    await answer(pub, r.text)
    await ws.wait_type("webrtc_broadcast_start", timeout=TIMEOUT)

    pc, tracks = viewer()
    r = await post_sdp(sfu, f"/api/livestreams/{show}/whep", await offer(pc), await sfu.guest())
    assert r.status_code == 201, r.text
    await answer(pc, r.text)
    video = await asyncio.wait_for(tracks["video"], TIMEOUT)
    frames = [await asyncio.wait_for(video.recv(), TIMEOUT) for _ in range(20)]
    indices = [read_index(f) for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == 20

    stats = (await sfu.http.get(f"/api/livestreams/{show}/stats", headers=sfu.admin)).json()
    assert stats["viewers"] == 1 and stats["publisher"]["codec"].upper() == "VP8"
    first = frames[0].time
    while frames[-1].time - first < 3.5:  # the recording passes its 3 s thumbnail point
        frames.append(await asyncio.wait_for(video.recv(), TIMEOUT))
    await sfu.http.post(f"/api/livestreams/{show}/stop", headers=sfu.admin)
    update = await ws.wait_for(
        lambda e: e.get("type") == "stream_update" and e["livestream"].get("videoUrl"),
        timeout=TIMEOUT,
    )
    video_url = update["livestream"]["videoUrl"]
    assert (
        update["livestream"]["isRecorded"] is True and update["livestream"]["durationSeconds"] > 2
    )
    media = await sfu.http.get(video_url)
    assert media.status_code == 200 and media.content[:4] == b"\x1a\x45\xdf\xa3"
    thumb = await sfu.http.get(update["livestream"]["thumbnailUrl"])
    assert thumb.content[:3] == b"\xff\xd8\xff"
    recs = (await sfu.http.get(f"/api/livestreams/{show}/recordings")).json()["recordings"]
    assert [r["source"] for r in recs] == ["server"] and 0 <= recs[0]["startOffsetSeconds"] < 5
    with pytest.raises(MediaStreamError):  # the viewer's track ends
        for _ in range(500):
            await asyncio.wait_for(video.recv(), TIMEOUT)
    await ws.close()
    await pub.close()
    await pc.close()


async def test_whep_before_publisher_and_after_end(sfu: Env) -> None:
    """WHEP is 409 "not live" before the publisher connects and after the show ends; 404 unknown."""
    show = await sfu.show()
    pc, _ = viewer()
    sdp = await offer(pc)
    guest = await sfu.guest()
    r = await post_sdp(sfu, f"/api/livestreams/{show}/whep", sdp, guest)
    assert r.status_code == 409 and r.json() == {"detail": "not live"}
    assert (await post_sdp(sfu, "/api/livestreams/999/whep", sdp, guest)).status_code == 404
    await sfu.http.post(f"/api/livestreams/{show}/stop", headers=sfu.admin)
    assert (await post_sdp(sfu, f"/api/livestreams/{show}/whep", sdp, guest)).status_code == 409
    await pc.close()


async def test_whip_errors(sfu: Env) -> None:
    """Wrong content type 415, empty/malformed SDP 400, no video 422, guest 403, no token 401, twice 409."""
    show = await sfu.show()
    url = f"/api/livestreams/{show}/whip"
    pub = publisher()
    sdp = await offer(pub)
    r = await sfu.http.post(url, content=sdp, headers={**sfu.admin, "Content-Type": "text/plain"})
    assert r.status_code == 415 and "detail" in r.json()
    assert (await post_sdp(sfu, url, "", sfu.admin)).status_code == 400
    assert (await post_sdp(sfu, url, "v=0\r\nnonsense", sfu.admin)).status_code == 400
    audio_only = RTCPeerConnection()
    audio_only.addTransceiver(AudioStreamTrack(), direction="sendonly")
    assert (await post_sdp(sfu, url, await offer(audio_only), sfu.admin)).status_code == 422
    assert (await post_sdp(sfu, url, sdp, await sfu.guest())).status_code == 403
    assert (await post_sdp(sfu, url, sdp, {})).status_code == 401
    assert (await post_sdp(sfu, url, "x" * 70_000, sfu.admin)).status_code == 413
    first = await post_sdp(sfu, url, sdp, sfu.admin)
    assert first.status_code == 201
    second_pc = publisher()
    assert (await post_sdp(sfu, url, await offer(second_pc), sfu.admin)).status_code == 409
    missing = await sfu.http.delete(f"{url}/nope", headers=sfu.admin)
    assert missing.status_code == 404
    assert (await sfu.http.delete(first.headers["location"], headers=sfu.admin)).status_code == 200
    for pc in (pub, audio_only, second_pc):
        await pc.close()


async def test_stats_needs_the_seller(sfu: Env) -> None:
    """Stats are for the seller only and 404 for an unknown show."""
    show = await sfu.show()
    assert (
        await sfu.http.get(f"/api/livestreams/{show}/stats", headers=await sfu.guest())
    ).status_code == 403
    assert (await sfu.http.get("/api/livestreams/999/stats", headers=sfu.admin)).status_code == 404
    body = (await sfu.http.get(f"/api/livestreams/{show}/stats", headers=sfu.admin)).json()
    assert body["publisher"] is None and body["viewers"] == 0


async def test_p2p_signalling_connects_two_aiortc_peers_through_the_hub(p2p: Env) -> None:
    """In p2p mode a seller peer and a shopper peer exchange offer/answer/candidates over /ws and media flows."""
    show = await p2p.show()
    assert (await p2p.http.get("/api/config")).json()["mediaMode"] == "p2p"
    guest_token = (await p2p.http.post("/api/auth/guest", json={"name": "V"})).json()["accessToken"]
    shopper = Client(await websockets.connect(f"{p2p.server.ws_url}?token={guest_token}"))
    seller = Client(await websockets.connect(f"{p2p.server.ws_url}?token={p2p.admin_token}"))
    await shopper.join(show)
    await seller.join(show)
    joined = await seller.wait_type("webrtc_viewer_joined")

    seller_pc = RTCPeerConnection()
    seller_pc.addTrack(IndexedVideoTrack())
    await seller_pc.setLocalDescription(await seller_pc.createOffer())
    desc = seller_pc.localDescription
    await seller.send(
        type="webrtc_offer", to=joined["peerId"], offer={"type": desc.type, "sdp": desc.sdp}
    )

    got = await shopper.wait_type("webrtc_offer", timeout=TIMEOUT)
    shopper_pc = RTCPeerConnection()
    tracks: dict[str, Any] = {}
    shopper_pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
    await shopper_pc.setRemoteDescription(RTCSessionDescription(**got["offer"]))
    await shopper_pc.setLocalDescription(await shopper_pc.createAnswer())
    local = shopper_pc.localDescription
    await shopper.send(
        type="webrtc_answer", to=got["from"], answer={"type": local.type, "sdp": local.sdp}
    )

    reply = await seller.wait_type("webrtc_answer", timeout=TIMEOUT)
    assert reply["from"] == joined["peerId"]
    await seller_pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
    frame = await asyncio.wait_for(tracks["video"].recv(), TIMEOUT)
    assert read_index(frame) >= 0
    for pc in (seller_pc, shopper_pc):
        await pc.close()
    await shopper.close()
    await seller.close()


async def test_whip_options_patch_and_ice_links(make_settings: Callable[..., Settings]) -> None:
    """OPTIONS on WHIP and WHEP lists methods and ICE servers (a minted TURN credential) as Link
    headers; PATCH (trickle) is 405."""
    settings = make_settings(
        ice_servers='[{"urls": ["stun:stun.example.org:3478"]}]',
        turn_urls="turn:turn.example.org?transport=tcp",
        turn_secret="s" * 32,
    )
    async for env in _env(settings):
        show = await env.show()
        for endpoint, headers in (("whip", env.admin), ("whep", await env.guest())):
            r = await env.http.options(f"/api/livestreams/{show}/{endpoint}", headers=headers)
            assert r.status_code == 204 and "POST" in r.headers["allow"], endpoint
            links = r.headers.get_list("link")
            assert '<stun:stun.example.org:3478>; rel="ice-server"' in links, endpoint
            assert any(
                link.startswith("<turn:turn.example.org?transport=tcp>")
                and 'credential-type="password"' in link
                for link in links
            ), endpoint
        patch = await env.http.patch(
            f"/api/livestreams/{show}/whip/abc", content="a=candidate", headers=env.admin
        )
        assert patch.status_code == 405


async def test_stable_whip_url_publishes_to_the_active_show(sfu: Env) -> None:
    """POST /api/whip (for OBS) targets the live show, and is 409 when none is live."""
    pub = publisher()
    sdp = await offer(pub)
    none = await post_sdp(sfu, "/api/whip", sdp, sfu.admin)
    assert none.status_code == 409 and "no show is live" in none.json()["detail"]
    show = await sfu.show()
    r = await post_sdp(sfu, "/api/whip", sdp, sfu.admin)
    assert r.status_code == 201 and r.headers["location"].startswith(
        f"/api/livestreams/{show}/whip/"
    )
    assert (await post_sdp(sfu, "/api/whip", sdp, await sfu.guest())).status_code == 403
    await pub.close()


async def rtt_reported(env: Env, show: int, video: Any) -> dict[str, Any] | None:
    """The show's ``viewerRttMs`` once it has a value (each stats request returns the cache and
    refreshes it from Janus's Admin API when stale), else None after half a second more of
    frames (media and RTCP flow meanwhile)."""
    stats = await env.http.get(f"/api/livestreams/{show}/stats", headers=env.admin)
    rtt: dict[str, Any] = stats.json()["viewerRttMs"]
    if rtt["p50"] is not None:
        return rtt
    for _ in range(15):
        await asyncio.wait_for(video.recv(), TIMEOUT)
    return None


async def test_janus_mode_serves_the_same_whip_and_whep(
    make_settings: Callable[..., Settings], janus_pair: Any
) -> None:
    """With LIVESHOP_MEDIA_MODE=janus the same HTTP endpoints publish and watch through Janus."""
    settings = make_settings(
        media_mode="janus",
        janus_urls=",".join(janus_pair.urls),
        janus_api_secret=janus_pair.api_secret,
        janus_admin_secret=janus_pair.admin_key,
        janus_admin_urls=",".join(janus_pair.admin_urls),
        janus_admin_api_secret=janus_pair.admin_secret,
        media_addresses=janus_pair.namespace.near,
    )
    async for env in _env(settings):
        show = await env.show()
        # the studio is in the show before it goes live (joining after the publisher connected
        # would miss webrtc_broadcast_start, which is an event, not state)
        ws = Client(await websockets.connect(f"{env.server.ws_url}?token={env.admin_token}"))
        await ws.join(show)
        pub = publisher()
        r = await post_sdp(env, f"/api/livestreams/{show}/whip", await offer(pub), env.admin)
        assert r.status_code == 201, r.text
        await answer(pub, r.text)
        await ws.wait_type("webrtc_broadcast_start", timeout=TIMEOUT)
        pc, tracks = viewer()
        r = await post_sdp(env, f"/api/livestreams/{show}/whep", await offer(pc), await env.guest())
        assert r.status_code == 201, r.text
        await answer(pc, r.text)
        video = await asyncio.wait_for(tracks["video"], TIMEOUT)
        indices = [read_index(await asyncio.wait_for(video.recv(), TIMEOUT)) for _ in range(10)]
        assert indices == sorted(indices)

        rtt = await until(
            lambda env=env, show=show, video=video: rtt_reported(env, show, video),
            timeout=3 * TIMEOUT,
            interval=0,
            message="the viewer's RTT",
        )
        assert rtt["p95"] is not None
        assert (await env.http.delete(r.headers["location"], headers=env.admin)).status_code == 200
        await ws.close()
        for peer in (pub, pc):
            await peer.close()
