"""The application factory. The lifespan owns every resource (database, broker, quotas, read
cache, announcer, media backend, hub, token service, authenticator), each on ``app.state`` under its own
name and handed to REST handlers as a typed dependency (``api/deps.py``)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import ASGIApp

from liveshop import __version__, apidocs, metrics
from liveshop.announcer import Announcer
from liveshop.api import (
    auth,
    health,
    livestreams,
    media,
    moderation,
    product_csv,
    products,
    recordings,
    replays,
    reports,
    schedule,
)
from liveshop.api import errors as api_errors
from liveshop.api import openapi as api_openapi
from liveshop.api.limits import BodyLimitMiddleware
from liveshop.api.readcache import ReadCacheMiddleware
from liveshop.authentication import Authenticator
from liveshop.broker.factory import create_broker
from liveshop.cache import ResponseCache
from liveshop.client_address import trust_proxies
from liveshop.config import Settings, resolve_secret_key
from liveshop.datadir import secure_data_dir
from liveshop.domain.picture_names import DIRECTORY as PICTURES
from liveshop.headers import SecurityHeaders
from liveshop.hub import wsproto
from liveshop.hub.endpoint import websocket_endpoint
from liveshop.hub.hub import Hub
from liveshop.logs import install_redaction
from liveshop.media.factory import create_media_backend
from liveshop.media_events import MediaEvents
from liveshop.quota.factory import create_quotas
from liveshop.replay.renditions import RenditionWorker
from liveshop.security import TokenService
from liveshop.storage.engine import Database
from liveshop.storage.migrate import upgrade

log = logging.getLogger(__name__)

# aiosqlite runs SQLite on a thread. While the event loop is busy (a big room's fan-out), that
# thread waits up to the GIL switch interval (5 ms by default) every time it needs the GIL back,
# several times per statement: measured, a chat message took over a second to be stored at
# 10,000 viewers. A shorter interval lets it in quickly; the loop thread pays nothing while no
# other thread asks for the GIL.
SQLITE_SWITCH_INTERVAL = 0.0005
STATIC = Path(__file__).parent / "static"


class LiveshopAPI(FastAPI):
    """FastAPI with the read cache in front of its whole middleware stack, so a cached answer
    costs one dictionary lookup (see ``api/readcache.py``)."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        stack: ASGIApp = ReadCacheMiddleware(super().build_middleware_stack())
        if metrics_enabled(settings):
            stack = metrics.MetricsMiddleware(stack)
        stack = SecurityHeaders(
            stack,
            frame_ancestors=settings.frame_ancestors,
            embed_origins=" ".join(settings.embed_origin_list),
        )
        return trust_proxies(stack, settings.forwarded_allow_ips)


def metrics_enabled(settings: Settings) -> bool:
    return bool(settings.metrics_port or settings.metrics_token)


def _node_id(settings: Settings) -> str:
    return settings.node_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the app. Nothing is opened until the lifespan starts; everything is closed when it ends.

    ``migrate`` applies Alembic migrations at start-up (``serve --workers N`` runs them once in the
    parent and passes False).
    """
    settings = settings or Settings()
    secret_key = resolve_secret_key(settings)
    install_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.effective_database_url
        secure_data_dir(settings)
        if migrate:
            await upgrade(url)
        settings.effective_media_dir.mkdir(parents=True, exist_ok=True)
        switch_interval = sys.getswitchinterval()
        if url.startswith("sqlite"):
            sys.setswitchinterval(min(switch_interval, SQLITE_SWITCH_INTERVAL))
        db = Database(url)
        broker = create_broker(settings.redis_url, prefix=settings.redis_prefix)
        await broker.start()
        quotas = create_quotas(settings.redis_url, prefix=settings.redis_prefix)
        await quotas.start()
        app.state.quotas = quotas
        cache = ResponseCache()
        announcer = Announcer(db, broker, cache)
        await announcer.start()
        renditions = RenditionWorker(db, settings.effective_media_dir, enabled=settings.mp4_replays)
        await renditions.start()
        app.state.renditions = renditions
        media = create_media_backend(
            settings.media_mode,
            media_dir=settings.effective_media_dir,
            ice_servers=settings.ice_server_list,
            public_ip=settings.public_ip,
            on_event=MediaEvents(db, announcer, settings.effective_media_dir, renditions),
            janus_urls=settings.janus_url_list,
            janus_api_secret=settings.janus_api_secret,
            janus_admin_secret=settings.janus_admin_secret,
            redis_url=settings.redis_url,
            redis_prefix=settings.redis_prefix,
            janus_admin_urls=settings.janus_admin_url_list,
            janus_admin_api_secret=settings.janus_admin_api_secret,
            media_addresses=settings.media_address_list,
        )
        await media.start()
        hub = Hub(
            db,
            broker,
            _node_id(settings),
            quotas=quotas,
            address_budgets={
                "chat": settings.address_chat_per_minute,
                "like": settings.address_likes_per_minute,
                "signal": settings.address_signals_per_minute,
                "connect": settings.address_connects_per_minute,
            },
            trusted_after=settings.trusted_after_seconds,
        )
        await hub.start()
        state = app.state
        state.db, state.broker, state.cache, state.announcer = db, broker, cache, announcer
        state.media, state.hub = media, hub
        state.tokens = TokenService(
            secret_key,
            ttl_seconds=settings.token_ttl_seconds,
            guest_ttl_seconds=settings.guest_token_ttl_seconds,
            admin_ttl_seconds=settings.seller_token_ttl_seconds,
        )
        state.authenticator = Authenticator(state.tokens, db)
        sampler = None
        if metrics_enabled(settings):
            metrics.watch_database(db.engine)
            sampler = state.metrics_sampler = metrics.Sampler(db, hub, media)
            sampler.start()
        try:
            yield
        finally:
            if sampler is not None:
                await sampler.close()
                metrics.process_exited()
            await media.close()
            await renditions.close()
            await hub.close()
            await announcer.close()
            await broker.close()
            await quotas.close()
            await db.close()
            sys.setswitchinterval(switch_interval)

    app = LiveshopAPI(
        title="liveshop",
        version=__version__,
        description="Live video shopping: REST API. Real-time events: WebSocket `/ws` "
        "(see docs/protocol.md).",
        lifespan=lifespan,
        docs_url=None,  # apidocs.py: Swagger UI from local files
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks check the providers on every request; off unless asked for
        telemetry=None
        if settings.telemetry
        else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    api_errors.install(app)
    app.add_middleware(BodyLimitMiddleware)
    for module in (
        auth,
        products,
        product_csv,
        livestreams,
        schedule,
        media,
        recordings,
        reports,
        moderation,
        health,
    ):
        app.include_router(module.router)
    app.include_router(replays.router)
    app.include_router(replays.pages)
    app.include_router(media.active_router)
    api_openapi.install(app)
    app.router.add_websocket_route("/ws", websocket_endpoint)
    _mount_pages(app, settings)
    apidocs.install(app)
    if settings.metrics_token:
        app.add_route("/metrics", metrics.metrics_endpoint, include_in_schema=False)
    return app


class MediaFiles(StaticFiles):
    """Recordings, thumbnails and product pictures: Range (206/416), ETag and Last-Modified from
    Starlette, plus a Cache-Control; paths cannot leave the media directory (StaticFiles checks).
    Product pictures have content-hashed names, so they are cached for a year (``immutable``)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        full_path = Path(kwargs.get("full_path") or args[0])
        immutable = full_path.parent.name == PICTURES
        response.headers.setdefault(
            "Cache-Control",
            "public, max-age=31536000, immutable" if immutable else "public, max-age=300",
        )
        return response


def _mount_pages(app: FastAPI, settings: Settings) -> None:
    media_dir = settings.effective_media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/media", MediaFiles(directory=media_dir), name="media")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(name: str) -> FileResponse:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def watch() -> FileResponse:
        return page("watch.html")

    @app.get("/live/{livestream_id}", include_in_schema=False)
    async def watch_show(livestream_id: int) -> FileResponse:
        return page("watch.html")

    # the embeddable player: the watch page, framed by the shop sites of LIVESHOP_EMBED_ORIGINS
    # (headers.py); static/js/shop-bridge.js talks to the host page
    @app.get("/embed/live", include_in_schema=False)
    async def embed_live() -> FileResponse:
        return page("watch.html")

    @app.get("/embed/{livestream_id:int}", include_in_schema=False)
    async def embed_show(livestream_id: int) -> FileResponse:
        return page("watch.html")

    @app.get("/replays", include_in_schema=False)
    async def replays() -> FileResponse:
        return page("replays.html")

    @app.get("/replays/{livestream_id}", include_in_schema=False)
    async def replay(livestream_id: int) -> FileResponse:
        return page("replay.html")

    @app.get("/studio", include_in_schema=False)
    async def studio() -> FileResponse:
        return page("studio.html")

    @app.get("/studio/catalogue", include_in_schema=False)
    async def catalogue() -> FileResponse:
        return page("catalogue.html")

    @app.get("/studio/", include_in_schema=False)
    async def studio_slash() -> RedirectResponse:
        return RedirectResponse("/studio")


# uvicorn settings for /ws: the sans-I/O websockets implementation (no per-frame drain), no
# compression, frames up to 256 KiB reach the hub (which refuses those over 16 KiB with an error).
UVICORN_WS_OPTIONS: dict[str, object] = {
    # uvicorn's websockets-sansio protocol + a direct write for broadcast frames (hub.wsproto)
    "ws": wsproto.PROTOCOL_PATH if wsproto.supported() else "websockets-sansio",
    "ws_max_size": 256 * 1024,
    "ws_per_message_deflate": False,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
}


# Every uvicorn that serves the app (``liveshop serve``, the tests' in-process server): no
# ``server: uvicorn`` banner, and proxy headers handled by the app (client_address.py).
UVICORN_OPTIONS: dict[str, object] = {
    **UVICORN_WS_OPTIONS,
    "server_header": False,
    "proxy_headers": False,
    # SIGTERM: stop accepting, close sockets with 1012 (pages reconnect at once to another
    # process), let requests in flight finish for up to this long, then the lifespan closes the
    # media sessions and recording segments
    "timeout_graceful_shutdown": 10,
}


def create_worker_app() -> FastAPI:
    """Factory for ``serve --workers N``: the parent already applied the migrations."""
    return create_app(migrate=os.environ.get("LIVESHOP_SKIP_MIGRATIONS") != "1")
