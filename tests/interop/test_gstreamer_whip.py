"""Interoperability: a WHIP publisher on GStreamer's webrtcbin (not aiortc, not Chromium).

webrtcbin (libnice) never offers loopback, so it runs inside a network namespace of the test's
own and reaches the server (HTTP and media) on the namespace's near address (tests/medianet.py).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websockets

from liveshop.config import Settings
from liveshop.media.netns import Namespace
from tests.api.test_media_http import TIMEOUT, Env, _env, answer, offer, post_sdp, viewer
from tests.conftest import CI
from tests.hub.conftest import Client
from tests.medianet import media_namespace

CLIENT = Path(__file__).with_name("gst_whip_client.py")
SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0');"
    "from gi.repository import Gst; Gst.init(None);"
    "assert Gst.ElementFactory.find('webrtcbin') and Gst.ElementFactory.find('vp8enc')"
)


def _require_gstreamer() -> None:
    try:
        ok = (
            subprocess.run([SYSTEM_PYTHON, "-c", PROBE], capture_output=True, timeout=30).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if ok:
        return
    message = "GStreamer webrtcbin with PyGObject is not installed (run `make gstreamer`)"
    if CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


@dataclass
class NetEnv:
    env: Env
    namespace: Namespace


@pytest.fixture
async def net(make_settings: Callable[..., Settings]) -> AsyncIterator[NetEnv]:
    _require_gstreamer()
    with media_namespace() as ns:
        settings = make_settings(media_addresses=ns.near)
        async for env in _env(settings, host=ns.near):
            yield NetEnv(env, ns)


async def test_gstreamer_publisher_reaches_an_aiortc_viewer(net: NetEnv) -> None:
    """webrtcbin publishes over WHIP (its own ICE, DTLS and SDP); a WHEP viewer decodes its video."""
    sfu_env = net.env
    show = await sfu_env.show()
    ws = Client(await websockets.connect(f"{sfu_env.server.ws_url}?token={sfu_env.admin_token}"))
    await ws.join(show)
    url = f"{sfu_env.server.url}/api/livestreams/{show}/whip"
    proc = await asyncio.create_subprocess_exec(
        *net.namespace.command(SYSTEM_PYTHON, str(CLIENT), url, sfu_env.admin_token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await ws.wait_type("webrtc_broadcast_start", timeout=30)  # the server has its media
        pc, tracks = viewer()
        r = await post_sdp(
            sfu_env, f"/api/livestreams/{show}/whep", await offer(pc), await sfu_env.guest()
        )
        assert r.status_code == 201, r.text
        await answer(pc, r.text)
        video = await asyncio.wait_for(tracks["video"], TIMEOUT)
        frames: list[Any] = [await asyncio.wait_for(video.recv(), TIMEOUT) for _ in range(10)]
        assert {(f.width, f.height) for f in frames} == {(320, 240)}
        stats = (
            await sfu_env.http.get(f"/api/livestreams/{show}/stats", headers=sfu_env.admin)
        ).json()
        assert stats["publisher"]["codec"].upper() == "VP8"
        await pc.close()
    finally:
        proc.terminate()
        out, err = await proc.communicate()
        await ws.close()
    assert b"location /api/livestreams/" in out, err.decode()[-2000:]
