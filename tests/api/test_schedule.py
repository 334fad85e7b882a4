"""Scheduled shows (issue 16): /api/livestreams/scheduled, /upcoming, planned products, go-live and
the calendar file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar

from tests.conftest import make_product


def soon(hours: float = 2) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def schedule(
    client: httpx.AsyncClient, admin: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"title": "Autumn knitwear", "scheduledAt": soon(), **fields}
    r = await client.post("/api/livestreams/scheduled", json=body, headers=admin)
    assert r.status_code == 201, r.text
    show: dict[str, Any] = r.json()["livestream"]
    return show


async def test_scheduled_show_is_upcoming_with_its_time(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A scheduled show is upcoming (not active, no end) at the time asked for."""
    at = soon(5)
    show = await schedule(client, admin, scheduledAt=at)
    assert show["status"] == "upcoming" and show["isActive"] is False
    assert show["endTime"] is None
    assert datetime.fromisoformat(show["scheduledAt"]) == datetime.fromisoformat(at)


async def test_upcoming_lists_soonest_first_and_ended_excludes_them(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """/upcoming lists upcoming shows soonest first; status=ended does not list them."""
    later = await schedule(client, admin, title="Later", scheduledAt=soon(30))
    sooner = await schedule(client, admin, title="Sooner", scheduledAt=soon(3))
    r = await client.get("/api/livestreams/upcoming")
    assert [s["id"] for s in r.json()["livestreams"]] == [sooner["id"], later["id"]]
    r = await client.get("/api/livestreams?status=ended")
    assert r.json()["livestreams"] == []


async def test_planned_products_keep_the_sellers_order(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Planned products come back in the order given, each once."""
    a, b = await make_product(client, admin, name="A"), await make_product(client, admin, name="B")
    show = await schedule(client, admin, productIds=[b["id"], a["id"], b["id"]])
    r = await client.get(f"/api/livestreams/{show['id']}/planned-products")
    assert [p["id"] for p in r.json()["products"]] == [b["id"], a["id"]]


async def test_unknown_planned_product_stores_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A plan naming an unknown product is refused (404) and no show is stored."""
    r = await client.post(
        "/api/livestreams/scheduled",
        json={"title": "X", "scheduledAt": soon(), "productIds": [999]},
        headers=admin,
    )
    assert r.status_code == 404
    assert (await client.get("/api/livestreams/upcoming")).json()["livestreams"] == []


async def test_time_in_the_past_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A scheduled time an hour ago is a 422 naming scheduledAt."""
    r = await client.post(
        "/api/livestreams/scheduled",
        json={"title": "X", "scheduledAt": soon(-1)},
        headers=admin,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "scheduledAt"


async def test_time_without_a_zone_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A scheduled time without a UTC offset is ambiguous: 422."""
    naive = (datetime.now() + timedelta(hours=2)).replace(microsecond=0).isoformat()
    r = await client.post(
        "/api/livestreams/scheduled", json={"title": "X", "scheduledAt": naive}, headers=admin
    )
    assert r.status_code == 422


async def test_shoppers_cannot_schedule(client: httpx.AsyncClient, guest: dict[str, str]) -> None:
    """Only the seller schedules shows (403 for a guest)."""
    r = await client.post(
        "/api/livestreams/scheduled", json={"title": "X", "scheduledAt": soon()}, headers=guest
    )
    assert r.status_code == 403


async def test_go_live_turns_the_upcoming_show_into_the_live_one(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Go live: the same show becomes active now and is the active show."""
    show = await schedule(client, admin, scheduledAt=soon(20))
    r = await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)
    assert r.status_code == 200, r.text
    live = r.json()["livestream"]
    assert live["id"] == show["id"] and live["status"] == "live" and live["isActive"] is True
    started = datetime.fromisoformat(live["startTime"])
    assert abs((started - datetime.now(UTC)).total_seconds()) < 60
    active = (await client.get("/api/livestreams/active")).json()["livestream"]
    assert active["id"] == show["id"]
    assert (await client.get("/api/livestreams/upcoming")).json()["livestreams"] == []


async def test_go_live_twice_is_a_conflict(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A show already live (or ended) cannot go live again: 409."""
    show = await schedule(client, admin)
    assert (await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)).is_success
    r = await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)
    assert r.status_code == 409
    await client.post(f"/api/livestreams/{show['id']}/stop", headers=admin)
    r = await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)
    assert r.status_code == 409


async def test_go_live_while_another_show_is_live_is_a_conflict(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Still one active show: going live while another is live is a 409; the show stays upcoming."""
    show = await schedule(client, admin)
    r = await client.post("/api/livestreams", json={"title": "Now"}, headers=admin)
    assert r.status_code == 201
    r = await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)
    assert r.status_code == 409
    again = (await client.get(f"/api/livestreams/{show['id']}")).json()["livestream"]
    assert again["status"] == "upcoming"


async def test_two_shows_going_live_at_once_start_one(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Two upcoming shows sent live concurrently: exactly one becomes active."""
    a, b = await schedule(client, admin), await schedule(client, admin)
    answers = await asyncio.gather(
        *(client.post(f"/api/livestreams/{s['id']}/go-live", headers=admin) for s in (a, b))
    )
    assert sorted(r.status_code for r in answers) == [200, 409]


async def test_plan_changes_only_while_upcoming(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """PUT planned-products replaces the plan of an upcoming show, and is a 409 once live."""
    a, b = await make_product(client, admin, name="A"), await make_product(client, admin, name="B")
    show = await schedule(client, admin, productIds=[a["id"]])
    path = f"/api/livestreams/{show['id']}/planned-products"
    r = await client.put(path, json={"productIds": [b["id"]]}, headers=admin)
    assert [p["id"] for p in r.json()["products"]] == [b["id"]]
    await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)
    r = await client.put(path, json={"productIds": [a["id"]]}, headers=admin)
    assert r.status_code == 409


async def test_calendar_file_parses_with_the_shows_time_and_link(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The .ics is one event icalendar reads: title, start, an hour long, the watch page's URL."""
    at = soon(48)
    title = "Knit; purl, repeat — ½ price"
    show = await schedule(client, admin, title=title, scheduledAt=at, description="Line 1\nLine 2")
    r = await client.get(f"/api/livestreams/{show['id']}/calendar.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(r.content)
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == title
    assert event.decoded("DTSTART") == datetime.fromisoformat(at)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
    assert str(event["URL"]).endswith(f"/live/{show['id']}")
    assert str(event["DESCRIPTION"]).startswith("Line 1\nLine 2")
    assert all(len(line) <= 75 for line in r.content.split(b"\r\n"))


async def test_reschedule_moves_an_upcoming_show(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """PUT …/schedule moves an upcoming show (the calendar follows); 409 once it is live."""
    show = await schedule(client, admin, scheduledAt=soon(2))
    later = soon(26)
    path = f"/api/livestreams/{show['id']}/schedule"
    r = await client.put(path, json={"scheduledAt": later}, headers=admin)
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["livestream"]["scheduledAt"]) == datetime.fromisoformat(
        later
    )
    ics = await client.get(f"/api/livestreams/{show['id']}/calendar.ics")
    (event,) = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime.fromisoformat(later)
    await client.post(f"/api/livestreams/{show['id']}/go-live", headers=admin)
    assert (await client.put(path, json={"scheduledAt": later}, headers=admin)).status_code == 409
