"""Prometheus metrics: scraped before and after a scripted show; promtool accepts the output."""

from __future__ import annotations

import asyncio
import re
import shutil
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from liveshop import metrics
from liveshop.config import Settings
from liveshop.media.synthetic import answer, offer
from tests.api.test_media_http import Env, post_sdp, publisher, viewer
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CI, create_admin, start_server, stop_server
from tests.hub.conftest import Client

TOKEN = "metrics-" + "m" * 40
TIMEOUT = 15.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


@pytest.fixture
async def env(make_settings: Callable[..., Settings]) -> AsyncIterator[Env]:
    srv, task, live = await start_server(make_settings(metrics_token=TOKEN))
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        await create_admin(live)
        r = await http.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        yield Env(live, http, r.json()["accessToken"])
    await stop_server(srv, task)


async def scrape(env: Env) -> str:
    r = await env.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_metrics_need_the_token(env: Env) -> None:
    """/metrics answers 404 without the bearer token or with a wrong one."""
    assert (await env.http.get("/metrics")).status_code == 404
    wrong = await env.http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404


async def test_a_scripted_show_moves_the_metrics(env: Env) -> None:
    """Requests, sockets, chat, fan-out, media, recording and database figures move with a show."""
    before = parse(await scrape(env))
    show = await env.show()
    guest = (await env.http.post("/api/auth/guest", json={"name": "Ann"})).json()["accessToken"]
    shopper = Client(await websockets.connect(f"{env.server.ws_url}?token={guest}"))
    await shopper.join(show)
    pub = publisher()
    r = await post_sdp(env, f"/api/livestreams/{show}/whip", await offer(pub), env.admin)
    await answer(pub, r.text)
    await shopper.wait_type("webrtc_broadcast_start", timeout=TIMEOUT)  # the publisher is up
    pc, tracks = viewer()
    r = await post_sdp(env, f"/api/livestreams/{show}/whep", await offer(pc), await env.guest())
    assert r.status_code == 201, r.text
    await answer(pc, r.text)
    video = await asyncio.wait_for(tracks["video"], TIMEOUT)
    first = await asyncio.wait_for(video.recv(), TIMEOUT)
    await shopper.send(type="chat_send", text="hello", clientMessageId="m1")
    await shopper.wait_type("chat_message", timeout=TIMEOUT)
    await shopper.send(type="chat_send", text="   ", clientMessageId="m2")
    await shopper.wait_type("error", timeout=TIMEOUT)
    while (await asyncio.wait_for(video.recv(), TIMEOUT)).time - first.time < 3.5:
        pass  # the recording gets past its thumbnail point

    live = parse(await scrape(env))
    assert value(live, "liveshop_show_viewers", show=str(show)) == 1
    assert value(live, "liveshop_media_sessions", role="publisher") == 1
    assert value(live, "liveshop_media_sessions", role="viewer") == 1
    assert value(live, "liveshop_publisher_bitrate_kbps", show=str(show)) > 0
    assert value(live, "liveshop_publisher_fps", show=str(show)) > 0
    assert value(live, "liveshop_websocket_connections") == 1
    # the viewer's receiver reports (one a second) say nothing was lost on loopback
    assert value(live, "liveshop_viewer_loss_ratio", show=str(show), percentile="50") == 0
    # and their round-trip time from the same reports (NaN until one arrived: NaN >= 0 is false)
    assert value(live, "liveshop_viewer_rtt_seconds", show=str(show), percentile="50") >= 0
    assert value(live, "liveshop_viewer_rtt_seconds", show=str(show), percentile="95") >= 0
    d = lambda name, **ls: value(live, name, **ls) - value(before, name, **ls)  # noqa: E731
    assert d("liveshop_chat_messages_total", outcome="accepted") == 1
    assert d("liveshop_chat_messages_total", outcome="rejected", reason="invalid") == 1
    assert d("liveshop_websocket_connections_opened_total") == 1
    assert d("liveshop_fanout_delivery_lag_seconds_count") >= 1
    assert d("liveshop_db_query_duration_seconds_count") > 0
    assert (
        d("liveshop_http_requests_total", route="/api/livestreams", method="POST", status="201")
        == 1
    )
    assert (
        d(
            "liveshop_http_requests_total",
            route="/api/livestreams/{livestream_id}/whep",
            status="201",
        )
        == 1
    )

    await env.http.post(f"/api/livestreams/{show}/stop", headers=env.admin)
    await shopper.wait_for(
        lambda e: e.get("type") == "stream_update" and e["livestream"].get("videoUrl"),
        timeout=TIMEOUT,
    )
    await shopper.ws.close()
    await shopper.closed
    for peer in (pub, pc):
        await peer.close()
    after = parse(await scrape(env))
    assert value(after, "liveshop_recording_bytes") > value(before, "liveshop_recording_bytes")
    assert value(after, "liveshop_show_viewers", show=str(show)) == 0
    assert value(after, "liveshop_media_sessions", role="publisher") == 0
    assert value(after, "liveshop_websocket_connections") == 0


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is missing (Debian's prometheus: `make internet-tools`)"
        if CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return path


async def test_promtool_accepts_the_exposition(env: Env) -> None:
    """`promtool check metrics` finds no problem in what /metrics serves."""
    tool = promtool()
    await env.http.get("/api/health")
    text = await scrape(env)
    proc = await asyncio.create_subprocess_exec(
        tool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT
    )
    out, _ = await proc.communicate(text.encode())
    assert proc.returncode == 0, out.decode()


def test_the_dashboard_plots_only_metrics_the_server_defines() -> None:
    """Every ``liveshop_*`` name in deploy/grafana-dashboard.json is one /metrics can serve."""
    dashboard = (
        Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
    ).read_text()
    defined = {
        sample_name
        for family in metrics.registry().collect()
        for sample_name in (family.name, *(s.name for s in family.samples))
    }
    defined |= {
        f"{name}_{suffix}" for name in defined for suffix in ("bucket", "count", "sum", "total")
    }
    used = set(re.findall(r"liveshop_[a-z_]+", dashboard))
    assert used and used <= defined, used - defined
