"""Health, config and OpenAPI."""

from __future__ import annotations

import httpx


async def test_health_reports_database_and_broker(client: httpx.AsyncClient) -> None:
    """Health names the broker and says the database is up."""
    r = await client.get("/api/health")
    assert r.json() == {"status": "ok", "database": "ok", "broker": "memory"}


async def test_config_tells_media_mode(client: httpx.AsyncClient) -> None:
    """The pages learn the media mode and ICE servers."""
    r = await client.get("/api/config")
    assert r.json() == {"mediaMode": "sfu", "iceServers": []}


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
