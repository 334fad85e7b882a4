"""End-to-end: a scheduled show (issue 16). The seller announces it in the studio (title, time,
cover picture, planned products); shoppers get a countdown page with "Add to calendar" (an .ics
that icalendar reads) and see it listed with the replays; "Start now" in the studio turns that
same show into the live one and the countdown page switches to it by itself."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import icalendar
import pytest
from PIL import Image
from playwright.async_api import expect

from tests.browser.conftest import SCREENSHOTS, Shop
from tests.browser.test_pages import seller_logs_in

pytestmark = pytest.mark.browser

# a datetime-local value 90 minutes from now in the browser's zone, and that moment in UTC
WHEN = """(minutes) => {
  const d = new Date(Date.now() + minutes * 60000);
  d.setSeconds(0, 0);
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  return [local, d.toISOString()];
}"""


# the calendar file as the page's link fetches it: [content type, text]
FETCH = "(u) => fetch(u).then(async (r) => [r.headers.get('content-type'), await r.text()])"


def cover_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 120, 60)).save(out, "PNG")
    return out.getvalue()


async def announce(seller: Any, shop: Shop, title: str) -> str:
    """Schedule ``title`` in the studio; return its time (UTC, ISO)."""
    local, utc = await seller.evaluate(WHEN, 30)
    await seller.get_by_text("Schedule a show").click()
    await seller.get_by_label("Name of the show").fill(title)
    await seller.get_by_label("Starts at").fill(local)
    await seller.get_by_label("About the show").fill("New mugs, first look")
    await seller.get_by_label("Cover picture").set_input_files(
        files=[{"name": "cover.png", "mimeType": "image/png", "buffer": cover_png()}]
    )
    await seller.get_by_role("checkbox", name=shop.products[2]["name"]).check()
    await seller.get_by_role("button", name="Schedule show").click()
    await expect(seller.locator(".scheduled-show", has_text=title)).to_be_visible()
    return str(utc)


async def test_scheduled_show_counts_down_and_goes_live(make_shop: Any, open_page: Any) -> None:
    """Announce and move it in the studio; the countdown ticks, the .ics is valid, then it goes live."""
    shop = await make_shop("p2p")
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    at = await announce(seller, shop, "Friday mug drop")
    # moved an hour later in the studio (PUT …/schedule)
    local, at = await seller.evaluate(WHEN, 90)
    await seller.get_by_label("New time for Friday mug drop").fill(local)
    await seller.get_by_role("button", name="Move Friday mug drop").click()
    await expect(seller.get_by_text("“Friday mug drop” is moved.")).to_be_visible()
    show = (await shop.http.get("/api/livestreams/upcoming")).json()["livestreams"][0]
    assert show["thumbnailUrl"]  # the cover picture

    shopper = await open_page("shopper")
    await shopper.goto(f"{shop.server.url}/live/{show['id']}")
    page = shopper.locator("#upcoming")
    await expect(page.get_by_role("heading", name="Friday mug drop")).to_be_visible()
    await expect(page.locator(".upcoming-countdown")).to_have_text(
        re.compile(r"^Starts in 01:[23]\d:\d\d$")
    )
    first = await page.locator(".upcoming-countdown").get_attribute("data-seconds-left")
    await shopper.wait_for_function(
        "(s) => document.querySelector('.upcoming-countdown').dataset.secondsLeft !== s", arg=first
    )
    await expect(page.locator(".upcoming-cover")).to_be_visible()
    await expect(page.locator(".upcoming-products")).to_contain_text(shop.products[2]["name"])
    await shopper.screenshot(path=str(SCREENSHOTS / "upcoming-desktop.png"))

    href = await page.get_by_role("link", name="Add to calendar").get_attribute("href")
    kind, body = await shopper.evaluate(FETCH, href)
    assert kind.startswith("text/calendar")
    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Friday mug drop"
    assert event.decoded("DTSTART") == datetime.fromisoformat(at.replace("Z", "+00:00"))
    assert str(event["URL"]) == f"{shop.server.url}/live/{show['id']}"

    # listed with the replays, and as the next show while nothing is live
    other = await open_page("browser")
    await other.goto(f"{shop.server.url}/replays")
    await expect(other.locator(f".upcoming-card[data-show-id='{show['id']}']")).to_be_visible()
    await other.goto(f"{shop.server.url}/")
    await expect(other.locator("#next-show .upcoming-card")).to_contain_text("Friday mug drop")

    # the seller starts it: the same show goes live and the countdown page follows
    await seller.wait_for_function("() => document.querySelector('#preview').videoWidth > 0")
    await seller.get_by_role("button", name="Start Friday mug drop now").click()
    await expect(seller.locator("#live-indicator")).to_have_text("LIVE")
    await expect(shopper.locator("#live-badge")).to_be_visible()
    await expect(shopper.locator("#show-title")).to_have_text("Friday mug drop")
    active = (await shop.http.get("/api/livestreams/active")).json()["livestream"]
    assert active["id"] == show["id"] and active["status"] == "live"
