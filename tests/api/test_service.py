"""Health, config and OpenAPI."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from liveshop.config import Settings
from tests.conftest import start_server, stop_server


async def test_health_reports_database_and_broker(client: httpx.AsyncClient) -> None:
    """Health names the broker and says the database, media and disk are fine."""
    r = await client.get("/api/health")
    body = r.json()
    assert body["disk"]["freeBytes"] > 0
    body["disk"].pop("freeBytes")
    assert body == {
        "status": "ok",
        "database": "ok",
        "broker": "memory",
        "media": {"mode": "sfu", "state": "ok", "instances": []},
        "disk": {"state": body["disk"]["state"], "recording": "ok"},
    }
    assert body["disk"]["state"] in ("ok", "low")


async def test_config_tells_media_mode(client: httpx.AsyncClient) -> None:
    """The pages learn the media mode and ICE servers."""
    r = await client.get("/api/config")
    assert r.json() == {
        "mediaMode": "sfu",
        "iceServers": [],
        "embedOrigins": [],
        "simulcast": False,
        "videoCodec": "vp8",
    }


async def test_config_tells_the_video_codec_the_studio_prefers(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    """LIVESHOP_VIDEO_CODEC=h264 reaches the pages as videoCodec; another value is refused."""
    srv, task, live = await start_server(
        make_settings(database_url=database_url, video_codec="h264")
    )
    try:
        async with httpx.AsyncClient(base_url=live.url) as client:
            assert (await client.get("/api/config")).json()["videoCodec"] == "h264"
    finally:
        await stop_server(srv, task)
    with pytest.raises(ValueError, match="video_codec"):
        make_settings(video_codec="av1")


async def test_openapi_documents_every_route_with_models(client: httpx.AsyncClient) -> None:
    """Every /api route is in the schema, with a request model where it takes a body."""
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in [
        "/api/auth/login",
        "/api/auth/guest",
        "/api/auth/register",
        "/api/auth/me",
        "/api/livestreams",
        "/api/livestreams/active",
        "/api/livestreams/{livestream_id}",
        "/api/livestreams/{livestream_id}/stop",
        "/api/livestreams/{livestream_id}/pin-product",
        "/api/products",
        "/api/products/{product_id}",
        "/api/health",
        "/api/livestreams/{livestream_id}/chat",
    ]:
        assert path in paths, path
    assert "requestBody" in paths["/api/products"]["post"]
    assert "200" in paths["/api/livestreams/active"]["get"]["responses"]
    assert (await client.get("/docs")).status_code == 200


async def test_sqlite_server_shortens_the_gil_switch_interval_while_it_runs(
    make_settings: Callable[..., Settings],
) -> None:
    """On SQLite the service shortens the GIL switch interval (its database thread gets in quickly
    while the loop is busy) and gives the old one back when it stops."""
    import sys

    from liveshop.app import SQLITE_SWITCH_INTERVAL
    from tests.conftest import start_server, stop_server

    before = sys.getswitchinterval()
    assert before > SQLITE_SWITCH_INTERVAL
    srv, task, _ = await start_server(make_settings())
    try:
        assert sys.getswitchinterval() == SQLITE_SWITCH_INTERVAL
    finally:
        await stop_server(srv, task)
    assert sys.getswitchinterval() == before
