"""Timeline, Buy clicks and the show report, from a scripted show with known times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from liveshop.storage import chat, livestreams
from liveshop.storage.models import Livestream, PinnedProduct, ViewerSession
from tests.conftest import LiveServer, make_product

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def scripted_show(
    server: LiveServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> tuple[int, int, int]:
    """A 3-minute show: chat at 10 s and 70 s, product A pinned 30–90 s, B from 100 s to the end,
    viewers g1 (0–180 s), g2 (20–60 s), g3 (120–150 s)."""
    show = (
        await client.post("/api/livestreams", json={"title": "Scripted"}, headers=admin)
    ).json()["livestream"]["id"]
    a, b = (
        (await make_product(client, admin, name="A"))["id"],
        (await make_product(client, admin, name="B"))["id"],
    )
    await client.post(f"/api/livestreams/{show}/pin-product", json={"productId": a}, headers=admin)
    await client.post(f"/api/livestreams/{show}/pin-product", json={"productId": b}, headers=admin)
    await client.delete(f"/api/livestreams/{show}/pin-product/{a}", headers=admin)
    async with server.db.session() as session:
        await session.execute(
            update(Livestream)
            .where(Livestream.id == show)
            .values(start_time=T0, end_time=at(180), is_active=False)
        )
        await session.execute(
            update(PinnedProduct)
            .where(PinnedProduct.product_id == a)
            .values(pinned_at=at(30), unpinned_at=at(90))
        )
        await session.execute(
            update(PinnedProduct)
            .where(PinnedProduct.product_id == b)
            .values(pinned_at=at(100), unpinned_at=None)
        )
        for text, t in (("early", 10), ("later", 70)):
            m = await chat.add(
                session,
                livestream_id=show,
                user_id="g_1",
                user_name="G",
                user_role="guest",
                text=text,
                client_message_id=None,
            )
            m.created_at = at(t)
        for viewer, start, end in (("g_1", 0, 180), ("g_2", 20, 60), ("g_3", 120, 150)):
            session.add(
                ViewerSession(
                    livestream_id=show, viewer=viewer, joined_at=at(start), left_at=at(end)
                )
            )
        await livestreams.record_peak(session, show, 2)
    return show, a, b


async def test_timeline_offsets(
    server: LiveServer, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Chat and pins come with their offsets from the show's start."""
    show, a, b = await scripted_show(server, client, admin)
    body = (await client.get(f"/api/livestreams/{show}/timeline")).json()
    assert body["durationSeconds"] == 180
    assert [(c["offsetSeconds"], c["message"]["text"]) for c in body["chat"]] == [
        (10, "early"),
        (70, "later"),
    ]
    pins = {
        p["product"]["id"]: (p["pinnedAtSeconds"], p["unpinnedAtSeconds"]) for p in body["pins"]
    }
    assert pins == {a: (30, 90), b: (100, None)}
    assert (await client.get("/api/livestreams/999/timeline")).status_code == 404


async def test_clicks_count_once_per_identity_product_and_minute(
    server: LiveServer, client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str]
) -> None:
    """Two clicks by one shopper in a minute count once; another shopper counts; unknown product 404."""
    show, a, _ = await scripted_show(server, client, admin)
    url = f"/api/livestreams/{show}/product-clicks"
    assert (await client.post(url, json={"productId": a}, headers=guest)).json() == {
        "counted": True
    }
    assert (await client.post(url, json={"productId": a}, headers=guest)).json() == {
        "counted": False
    }
    other = (await client.post("/api/auth/guest", json={})).json()["accessToken"]
    r = await client.post(url, json={"productId": a}, headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 202 and r.json() == {"counted": True}
    assert (await client.post(url, json={"productId": 999}, headers=guest)).status_code == 404
    assert (await client.post(url, json={"productId": a})).status_code == 401


async def test_report_figures(
    server: LiveServer, client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str]
) -> None:
    """Duration, viewers over time, average, chat, likes and per-product seconds, clicks, click-through."""
    show, a, b = await scripted_show(server, client, admin)
    await client.post(
        f"/api/livestreams/{show}/product-clicks", json={"productId": a}, headers=guest
    )
    r = await client.get(f"/api/livestreams/{show}/report", headers=admin)
    assert r.status_code == 200
    report = r.json()
    assert report["durationSeconds"] == 180 and report["peakViewers"] == 2
    assert [(p["offsetSeconds"], p["viewers"]) for p in report["viewersOverTime"]] == [
        (0, 1),
        (60, 1),
        (120, 2),
        (180, 0),
    ]
    assert report["averageViewers"] == 1.0 and report["chatMessages"] == 2 and report["likes"] == 0
    products = {p["product"]["id"]: p for p in report["products"]}
    assert products[a]["secondsOnScreen"] == 60 and products[a]["clicks"] == 1
    assert products[a]["clickThrough"] == 0.5  # g1 and g2 watched while A was pinned
    assert products[b]["secondsOnScreen"] == 80 and products[b]["clickThrough"] == 0.0
    assert (await client.get(f"/api/livestreams/{show}/report", headers=guest)).status_code == 403
