"""Interoperability: a WHIP publisher on GStreamer's webrtcbin (not aiortc, not Chromium)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from liveshop.config import Settings
from tests.api.test_media_http import TIMEOUT, Env, _env, answer, offer, post_sdp, viewer
from tests.conftest import CI
from tests.hub.conftest import Client

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


@pytest.fixture
async def sfu_env(make_settings: Callable[..., Settings]) -> AsyncIterator[Env]:
    _require_gstreamer()
    async for env in _env(make_settings()):
        yield env


async def test_gstreamer_publisher_reaches_an_aiortc_viewer(sfu_env: Env) -> None:
    """webrtcbin publishes over WHIP (its own ICE, DTLS and SDP); a WHEP viewer decodes its video."""
    show = await sfu_env.show()
    ws = Client(await websockets.connect(f"{sfu_env.server.ws_url}?token={sfu_env.admin_token}"))
    await ws.join(show)
    url = f"{sfu_env.server.url}/api/livestreams/{show}/whip"
    proc = await asyncio.create_subprocess_exec(
        SYSTEM_PYTHON,
        str(CLIENT),
        url,
        sfu_env.admin_token,
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
