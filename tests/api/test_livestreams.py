"""Shows: /api/livestreams/*."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import make_product


async def start(
    client: httpx.AsyncClient, admin: dict[str, str], title: str = "Spring drop"
) -> dict[str, object]:
    r = await client.post(
        "/api/livestreams", json={"title": title, "quality": "1080p"}, headers=admin
    )
    assert r.status_code == 201, r.text
    stream: dict[str, object] = r.json()["livestream"]
    return stream


async def test_create_starts_an_active_show(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A new show is active, has a start time and every documented field."""
    s = await start(client, admin)
    assert s["isActive"] is True and s["startTime"] and s["endTime"] is None
    assert s["quality"] == "1080p" and s["pinnedProducts"] == [] and s["likes"] == 0
    assert set(s) >= {
        "id",
        "title",
        "description",
        "quality",
        "isActive",
        "startTime",
        "endTime",
        "createdBy",
        "likes",
        "viewerCount",
        "peakViewers",
        "pinnedProducts",
        "videoUrl",
        "thumbnailUrl",
        "isRecorded",
    }


async def test_second_active_show_is_409(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """While a show is active another cannot start."""
    await start(client, admin)
    r = await client.post("/api/livestreams", json={"title": "again"}, headers=admin)
    assert r.status_code == 409
    assert r.json() == {"detail": "Another livestream is active"}


async def test_twenty_concurrent_creates_yield_one_show(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """20 concurrent POSTs: exactly one 201 and nineteen 409 (the database enforces it)."""
    results = await asyncio.gather(
        *[
            client.post("/api/livestreams", json={"title": f"t{i}"}, headers=admin)
            for i in range(20)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 19
    listed = (await client.get("/api/livestreams?status=active")).json()["livestreams"]
    assert len(listed) == 1


async def test_active_endpoint(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """``/active`` is null without a show, the show while live, null again after stop."""
    assert (await client.get("/api/livestreams/active")).json() == {"livestream": None}
    s = await start(client, admin)
    assert (await client.get("/api/livestreams/active")).json()["livestream"]["id"] == s["id"]
    await client.post(f"/api/livestreams/{s['id']}/stop", headers=admin)
    assert (await client.get("/api/livestreams/active")).json() == {"livestream": None}


async def test_stop_is_idempotent_and_clears_pins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Stop sets endTime, clears pins; stopping again answers the same show unchanged."""
    s = await start(client, admin)
    p = await make_product(client, admin)
    await client.post(
        f"/api/livestreams/{s['id']}/pin-product", json={"productId": p["id"]}, headers=admin
    )
    r = await client.post(f"/api/livestreams/{s['id']}/stop", headers=admin)
    body = r.json()["livestream"]
    assert body["isActive"] is False and body["endTime"] and body["pinnedProducts"] == []
    again = await client.post(f"/api/livestreams/{s['id']}/stop", headers=admin)
    assert again.status_code == 200 and again.json()["livestream"]["endTime"] == body["endTime"]
    # a new show can start now
    await start(client, admin, "next")


async def test_list_by_status_newest_first_with_cursor(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """status=ended lists ended shows newest first; ``next`` pages."""
    ids = []
    for i in range(3):
        s = await start(client, admin, f"s{i}")
        await client.post(f"/api/livestreams/{s['id']}/stop", headers=admin)
        ids.append(s["id"])
    live = await start(client, admin, "live")
    ended = (await client.get("/api/livestreams?status=ended&limit=2")).json()
    assert [s["id"] for s in ended["livestreams"]] == ids[::-1][:2]
    rest = (
        await client.get(f"/api/livestreams?status=ended&limit=2&before={ended['next']}")
    ).json()
    assert [s["id"] for s in rest["livestreams"]] == [ids[0]] and rest["next"] is None
    active = (await client.get("/api/livestreams?status=active")).json()["livestreams"]
    assert [s["id"] for s in active] == [live["id"]]
    assert (await client.get("/api/livestreams?status=bogus")).status_code == 422


async def test_get_patch_and_put(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str]
) -> None:
    """PATCH and PUT change the given fields; guests are 403; unknown ids 404."""
    s = await start(client, admin)
    r = await client.patch(
        f"/api/livestreams/{s['id']}", json={"title": "New", "isRecorded": True}, headers=admin
    )
    assert r.json()["livestream"]["title"] == "New" and r.json()["livestream"]["isRecorded"] is True
    r = await client.put(
        f"/api/livestreams/{s['id']}", json={"videoUrl": "/media/x.webm"}, headers=admin
    )
    assert (
        r.json()["livestream"]["videoUrl"] == "/media/x.webm"
        and r.json()["livestream"]["title"] == "New"
    )
    assert (await client.get(f"/api/livestreams/{s['id']}")).json()["livestream"]["title"] == "New"
    assert (
        await client.patch(f"/api/livestreams/{s['id']}", json={"title": "x"}, headers=guest)
    ).status_code == 403
    assert (
        await client.patch("/api/livestreams/999", json={"title": "x"}, headers=admin)
    ).status_code == 404
    assert (await client.get("/api/livestreams/999")).status_code == 404


async def test_pin_and_unpin(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Pins keep their order, pinning twice does not duplicate, unpin removes."""
    s = await start(client, admin)
    a, b = await make_product(client, admin, name="A"), await make_product(client, admin, name="B")
    url = f"/api/livestreams/{s['id']}/pin-product"
    await client.post(url, json={"productId": b["id"]}, headers=admin)
    r = await client.post(url, json={"productId": a["id"]}, headers=admin)
    assert [p["name"] for p in r.json()["pinnedProducts"]] == ["B", "A"]
    r = await client.post(url, json={"productId": a["id"]}, headers=admin)
    assert [p["name"] for p in r.json()["pinnedProducts"]] == ["B", "A"]
    shown = (await client.get(f"/api/livestreams/{s['id']}")).json()["livestream"]["pinnedProducts"]
    assert shown == r.json()["pinnedProducts"]
    r = await client.delete(f"{url}/{b['id']}", headers=admin)
    assert [p["name"] for p in r.json()["pinnedProducts"]] == ["A"]


async def test_pin_errors(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str]
) -> None:
    """Unknown product 404, unknown show 404, ended show 409, guest 403, bad body 422."""
    s = await start(client, admin)
    p = await make_product(client, admin)
    url = f"/api/livestreams/{s['id']}/pin-product"
    assert (await client.post(url, json={"productId": 999}, headers=admin)).status_code == 404
    assert (
        await client.post(
            "/api/livestreams/999/pin-product", json={"productId": p["id"]}, headers=admin
        )
    ).status_code == 404
    assert (await client.post(url, json={"productId": p["id"]}, headers=guest)).status_code == 403
    assert (await client.post(url, json={"productId": "x"}, headers=admin)).status_code == 422
    await client.post(f"/api/livestreams/{s['id']}/stop", headers=admin)
    r = await client.post(url, json={"productId": p["id"]}, headers=admin)
    assert r.status_code == 409


async def test_create_needs_admin_and_valid_body(
    client: httpx.AsyncClient, admin: dict[str, str], guest: dict[str, str]
) -> None:
    """401 without a token, 403 for guests, 422 for a missing title or unknown quality."""
    assert (await client.post("/api/livestreams", json={"title": "x"})).status_code == 401
    assert (
        await client.post("/api/livestreams", json={"title": "x"}, headers=guest)
    ).status_code == 403
    assert (await client.post("/api/livestreams", json={}, headers=admin)).status_code == 422
    assert (
        await client.post("/api/livestreams", json={"title": "x", "quality": "8k"}, headers=admin)
    ).status_code == 422
    assert (
        await client.post("/api/livestreams", json={"title": "   "}, headers=admin)
    ).status_code == 422


async def test_chat_history_endpoint(
    client: httpx.AsyncClient, admin: dict[str, str], server: object
) -> None:
    """Chat history is oldest first and pages with ``after``; unknown show 404."""
    from liveshop.storage import chat

    s = await start(client, admin)
    async with server.db.session() as session:  # type: ignore[attr-defined]
        for i in range(3):
            await chat.add(
                session,
                livestream_id=s["id"],
                user_id="g_1",
                user_name="A",
                user_role="guest",
                text=f"m{i}",
                client_message_id=None,
            )
    msgs = (await client.get(f"/api/livestreams/{s['id']}/chat")).json()["messages"]
    assert [m["text"] for m in msgs] == ["m0", "m1", "m2"]
    assert msgs[0]["user"] == {"id": "g_1", "name": "A", "role": "guest"}
    later = (
        await client.get(f"/api/livestreams/{s['id']}/chat?after={msgs[0]['id']}&limit=1")
    ).json()["messages"]
    assert [m["text"] for m in later] == ["m1"]
    assert (await client.get("/api/livestreams/999/chat")).status_code == 404
