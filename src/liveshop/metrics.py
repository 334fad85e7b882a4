"""Prometheus metrics (``prometheus-client``), multiprocess-safe under ``serve --workers N``.

Where they are served (never on the public surface by default):

* ``LIVESHOP_METRICS_PORT``: a separate listener (``LIVESHOP_METRICS_HOST``, default 127.0.0.1),
  run by the ``liveshop serve`` parent process, which sums every worker's figures;
* ``LIVESHOP_METRICS_TOKEN``: ``GET /metrics`` on the main port with ``Authorization: Bearer
  <token>`` (404 without the token or with a wrong one, so the route is not even advertised).

Under ``liveshop serve`` every process writes its figures to files in
``{LIVESHOP_DATA_DIR}/metrics`` (prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``
set by the command before any worker starts); each scrape merges them. Counters and histograms
are updated where things happen (small hooks: HTTP and WebSocket in :class:`MetricsMiddleware`,
chat outcomes, fan-out lag and slow-socket closes in ``hub/``, database latency through SQLAlchemy
events); per-show and media figures are read every :data:`SAMPLE_SECONDS` (and before a token
scrape) from the public ``Hub.rooms`` and ``MediaBackend.stats()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveshop.protocol import ProtocolError
from liveshop.storage.errors import Unavailable
from liveshop.storage.models import Livestream, Recording

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from liveshop.media.base import MediaBackend
    from liveshop.storage.engine import Database

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 5.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "liveshop_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "liveshop_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
WS_OPEN = Gauge(
    "liveshop_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)
WS_OPENED = Counter("liveshop_websocket_connections_opened", "WebSocket connections accepted")
SHOW_VIEWERS = Gauge(
    "liveshop_show_viewers",
    "Distinct shoppers watching a live show (the shared count)",
    ["show"],
    multiprocess_mode="livemax",
)
CHAT_MESSAGES = Counter(
    "liveshop_chat_messages", "Chat messages by outcome and refusal reason", ["outcome", "reason"]
)
FANOUT_LAG = Histogram(
    "liveshop_fanout_delivery_lag_seconds",
    "From an event reaching a room to its frame being handed to the room's last socket",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5),
)
SLOW_CLOSED = Counter(
    "liveshop_sockets_closed_slow", "Sockets closed (1013) for falling behind their frames"
)
MEDIA_SESSIONS = Gauge(
    "liveshop_media_sessions", "Media sessions by role", ["role"], multiprocess_mode="livesum"
)
PUBLISHER_BITRATE = Gauge(
    "liveshop_publisher_bitrate_kbps",
    "Bitrate the publisher sends",
    ["show"],
    multiprocess_mode="livesum",
)
PUBLISHER_FPS = Gauge(
    "liveshop_publisher_fps", "Frames per second received", ["show"], multiprocess_mode="livesum"
)
PUBLISHER_LOST = Gauge(
    "liveshop_publisher_packets_lost",
    "Packets lost from the publisher so far (RTP sequence gaps)",
    ["show"],
    multiprocess_mode="livesum",
)
VIEWER_RTT = Gauge(
    "liveshop_viewer_rtt_seconds",
    "Round-trip time to the show's viewers (RTCP), by percentile (50, 95)",
    ["show", "percentile"],
    multiprocess_mode="livemax",
)
VIEWER_LOSS = Gauge(
    "liveshop_viewer_loss_ratio",
    "Share of packets the show's viewers report lost (RTCP), by percentile (50, 95)",
    ["show", "percentile"],
    multiprocess_mode="livemax",
)
LOOP_TASKS = Gauge(
    "liveshop_event_loop_tasks",
    "asyncio tasks alive on the event loop (flat over a long show; growth is a leak)",
    multiprocess_mode="livesum",
)
RECORDING_BYTES = Gauge(
    "liveshop_recording_bytes",
    "Bytes of the recordings kept (all shows)",
    multiprocess_mode="livemax",
)
DB_LATENCY = Histogram(
    "liveshop_db_query_duration_seconds",
    "Time of one database statement",
    ["dialect"],
    buckets=LATENCY_BUCKETS,
)


# -- where metrics are written and served ------------------------------------------------------


def registry() -> CollectorRegistry:
    """What a scrape reports: every process's files in multiprocess mode, else this process."""
    if os.environ.get(MULTIPROC_ENV):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    from prometheus_client import REGISTRY

    return REGISTRY


def serve_port(host: str, port: int) -> None:
    """Serve ``/metrics`` on its own listener (a thread of the calling process)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry())


def process_exited() -> None:
    """Drop this process's live gauges (called when a worker stops cleanly)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# -- hooks ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def chat_outcome() -> Iterator[None]:
    """Count one ``chat_send``: accepted, or refused with the error code as reason."""
    try:
        yield
    except ProtocolError as exc:
        CHAT_MESSAGES.labels("rejected", exc.code).inc()
        raise
    CHAT_MESSAGES.labels("accepted", "").inc()


def watch_database(engine: AsyncEngine) -> None:
    """Time every statement of ``engine`` (SQLAlchemy cursor events)."""
    sync = engine.sync_engine
    histogram = DB_LATENCY.labels(engine.dialect.name)

    def before(conn: Any, *_: Any) -> None:
        conn.info.setdefault("liveshop_t0", []).append(time.perf_counter())

    def after(conn: Any, *_: Any) -> None:
        starts = conn.info.get("liveshop_t0")
        if starts:
            histogram.observe(time.perf_counter() - starts.pop())

    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)


def _route(scope: Scope, status: int) -> str:
    route = scope.get("route")
    # the template without convertors: "/api/livestreams/{livestream_id}/whep"
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if status < 400 and scope.get("path") in ("/api/livestreams/active", "/api/products"):
        return str(scope["path"])  # answered by the read cache, before routing
    root = scope.get("root_path") or ""
    return f"{root}/*" if root else "unmatched"


class MetricsMiddleware:
    """Counts and times HTTP answers by route template (never the raw path) and tracks open
    WebSocket connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            WS_OPENED.inc()
            WS_OPEN.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                WS_OPEN.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route(scope, status)
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - start)


# -- figures read at intervals -----------------------------------------------------------------


class Sampler:
    """Reads the hub's shared viewer counts, the media backend's public stats and the kept
    recordings' size into gauges, every :data:`SAMPLE_SECONDS` and before a token scrape."""

    def __init__(self, db: Database, hub: Any, media: MediaBackend) -> None:
        self.db, self.hub, self.media = db, hub, media
        self._labelled: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="metrics-sampler")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample()
            except Unavailable as exc:  # the database is away: the next sample catches up
                log.warning("metrics sample skipped: %s", exc)
            except Exception:
                log.exception("metrics sample failed")
            await asyncio.sleep(SAMPLE_SECONDS)

    async def sample(self) -> None:
        LOOP_TASKS.set(len(asyncio.all_tasks()))
        async with self.db.session() as session:
            live = list(
                (await session.scalars(select(Livestream.id).where(Livestream.is_active))).all()
            )
            kept = await session.scalar(select(func.coalesce(func.sum(Recording.size_bytes), 0)))
        RECORDING_BYTES.set(float(kept or 0))
        shows = {str(show) for show in live}
        for gone in self._labelled - shows:
            for gauge in (SHOW_VIEWERS, PUBLISHER_BITRATE, PUBLISHER_FPS, PUBLISHER_LOST):
                with contextlib.suppress(KeyError):
                    gauge.remove(gone)
            for percentile in ("50", "95"):
                for by_percentile in (VIEWER_RTT, VIEWER_LOSS):
                    with contextlib.suppress(KeyError):
                        by_percentile.remove(gone, percentile)
        self._labelled = shows
        publishers = viewers = 0
        rooms = getattr(self.hub, "rooms", {})
        for show in live:
            room = rooms.get(show)
            count = getattr(room, "count", -1) if room is not None else -1
            SHOW_VIEWERS.labels(str(show)).set(max(count, 0))
            stats = self.media.own_stats(show)  # summed over processes (livesum)
            viewers += int(stats.get("viewers") or 0)
            publisher = stats.get("publisher")
            if publisher:
                publishers += 1
                PUBLISHER_BITRATE.labels(str(show)).set(float(publisher.get("bitrateKbps") or 0))
                PUBLISHER_FPS.labels(str(show)).set(float(publisher.get("fps") or 0))
                PUBLISHER_LOST.labels(str(show)).set(float(publisher.get("packetsLost") or 0))
            else:
                for gauge in (PUBLISHER_BITRATE, PUBLISHER_FPS):
                    gauge.labels(str(show)).set(0)
            rtt = stats.get("viewerRttMs") or {}
            loss = stats.get("viewerLossPct") or {}
            for percentile, key in (("50", "p50"), ("95", "p95")):
                value = rtt.get(key)
                VIEWER_RTT.labels(str(show), percentile).set(
                    value / 1000 if value is not None else float("nan")
                )
                lost = loss.get(key)
                VIEWER_LOSS.labels(str(show), percentile).set(
                    lost / 100 if lost is not None else float("nan")
                )
        MEDIA_SESSIONS.labels("publisher").set(publishers)
        MEDIA_SESSIONS.labels("viewer").set(viewers)


def authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics`` (token mode): 404 unless the bearer token matches."""
    settings = request.app.state.settings
    if not authorized(request, settings.metrics_token):
        return Response("Not Found", status_code=404, media_type="text/plain")
    sampler: Sampler | None = getattr(request.app.state, "metrics_sampler", None)
    if sampler is not None:
        await sampler.sample()
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
