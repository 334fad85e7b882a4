"""Issue 14's moderation in Chromium: the studio's chat rules, bans (with the network-address option)
and unban, the moderator's studio, the OBS stream key, and the new-shopper wait on the watch page.

Shows are started over the API where the seller's camera plays no part, so only the ban test
streams video."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import websockets
from playwright.async_api import expect

from tests.browser.conftest import PHONE, SCREENSHOTS, Shop
from tests.browser.test_pages import seller_goes_live, seller_logs_in

pytestmark = pytest.mark.browser

MODERATOR = {"email": "mod@example.com", "name": "Mo", "password": "moderate-me-1"}
# a shopper behind another network (the tests' server trusts the browser's X-Forwarded-For)
OTHER_NETWORK = "203.0.113.7"


async def start_show(shop: Shop, title: str) -> int:
    r = await shop.http.post("/api/livestreams", json={"title": title}, headers=shop.admin)
    assert r.status_code == 201, r.text
    return int(r.json()["livestream"]["id"])


async def shopper_joins_chat(page: Any, url: str, name: str) -> None:
    await page.goto(url)
    await expect(page.locator("#live-badge")).to_be_visible()
    await page.get_by_label("Pick a display name to chat").fill(name)
    await page.get_by_role("button", name="Join chat").click()
    await expect(page.get_by_label("Message", exact=True)).to_be_visible()


async def say(page: Any, text: str) -> None:
    await page.get_by_label("Message", exact=True).fill(text)
    await page.get_by_role("button", name="Send").click()


async def moderator_logs_in(page: Any, shop: Shop) -> None:
    r = await shop.http.post("/api/staff", json=MODERATOR, headers=shop.admin)
    assert r.status_code == 201, r.text
    await page.goto(f"{shop.server.url}/studio")
    await page.get_by_label("E-mail", exact=True).fill(MODERATOR["email"])
    await page.get_by_label("Password", exact=True).fill(MODERATOR["password"])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#who")).to_have_text("Mo (moderator)")


async def test_blocked_word_refused(make_shop: Any, open_page: Any) -> None:
    """A word the seller blocks in the studio refuses a shopper's message, with the reason shown."""
    shop = await make_shop("p2p")
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    rules = seller.get_by_role("region", name="Chat rules")
    await rules.get_by_label("Blocked words and phrases").fill("knockoff\nfake deal")
    await expect(rules.get_by_role("switch", name="Allow links from shoppers")).not_to_be_checked()
    await rules.get_by_role("button", name="Save chat rules").click()
    await expect(rules.get_by_role("status")).to_have_text("Saved: 2 blocked words, links refused.")

    show_id = await start_show(shop, "Rules")
    shopper = await open_page("shopper")
    await shopper_joins_chat(shopper, f"{shop.server.url}/live/{show_id}", "Ana")
    await say(shopper, "Is this a KNOCK-OFF?")
    refusal = "this message contains a word the shop does not allow"
    alert = shopper.get_by_role("alert").filter(has_text="Your message was not sent")
    await expect(alert).to_have_text(f"Your message was not sent: {refusal}.")
    failed = shopper.locator(".chat-msg.failed", has_text="Is this a KNOCK-OFF?")
    await expect(failed).to_contain_text(f"not sent: {refusal}")
    r = await shop.http.get(f"/api/livestreams/{show_id}/chat")
    assert r.json()["messages"] == []


async def test_ban_with_address_then_unban(make_shop: Any, open_page: Any) -> None:
    """The seller bans a shopper with their address, sees it listed, unbans, and they chat again
    as the same identity (the page keeps its guest token)."""
    shop = await make_shop("p2p", forwarded_allow_ips="*")
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    await seller_goes_live(seller, "Ban check")
    rex = await open_page("rex", extra_http_headers={"X-Forwarded-For": OTHER_NETWORK})
    await shopper_joins_chat(rex, f"{shop.server.url}/", "Rex")
    await say(rex, "spam spam")
    rex_id = await rex.evaluate("JSON.parse(localStorage['liveshop.guest']).user.id")

    chat = seller.get_by_role("region", name="Chat", exact=True)
    await chat.get_by_role("button", name="Ban Rex").click()
    dialog = seller.get_by_role("dialog", name="Ban Rex?")
    address = dialog.get_by_role("checkbox", name="Also ban their network address")
    await expect(address).not_to_be_checked()
    await expect(address).to_have_accessible_description(re.compile("many shoppers"))
    await address.check()
    await dialog.get_by_role("button", name="Ban").click()

    await expect(rex.locator("#conn-banner")).to_have_text("You were removed from this show.")
    bans = chat.get_by_role("list", name="Banned from this show")
    await expect(bans.get_by_role("listitem")).to_have_count(1)
    await expect(bans.get_by_role("listitem")).to_contain_text("with their network address")
    await expect(chat.locator(".chat-msg", has_text="spam spam")).to_have_count(0)
    await seller.screenshot(path=str(SCREENSHOTS / "studio-bans.png"))

    await bans.get_by_role("button", name="Unban Rex").click()
    await expect(bans.get_by_role("listitem")).to_have_count(0)
    await expect(chat.get_by_text("No one is banned from this show.")).to_be_visible()
    await rex.reload()
    await expect(rex.locator("#chat-form")).to_be_visible()
    await say(rex, "sorry, I am back")
    back = chat.locator(".chat-msg", has_text="sorry, I am back")
    await expect(back).to_have_count(1)
    await expect(back).to_have_attribute("data-user-id", rex_id)  # not a fresh identity


async def test_seller_adds_and_removes_a_moderator_in_the_studio(
    make_shop: Any, open_page: Any
) -> None:
    """The seller adds a moderator in the studio's Team panel, who can then log in; removing them
    (after a confirmation) deletes the account."""
    shop = await make_shop("p2p")
    seller = await open_page("seller")
    await seller_logs_in(seller, shop)
    team = seller.get_by_role("region", name="Team")
    await team.get_by_label("Moderator's e-mail").fill(MODERATOR["email"])
    await team.get_by_label("Moderator's name").fill(MODERATOR["name"])
    await team.get_by_label("Moderator's password").fill(MODERATOR["password"])
    await team.get_by_role("button", name="Add moderator").click()
    await expect(team.get_by_role("status")).to_have_text("Mo can now log in as a moderator.")
    members = team.get_by_role("list", name="Team members")
    await expect(
        members.get_by_role("listitem").filter(has_text=MODERATOR["email"])
    ).to_contain_text("moderator")
    login = {"email": MODERATOR["email"], "password": MODERATOR["password"]}
    r = await shop.http.post("/api/auth/login", json=login)
    assert r.status_code == 200 and r.json()["user"]["role"] == "moderator", r.text

    await team.get_by_role("button", name="Remove Mo").click()
    await seller.get_by_role("dialog").get_by_role("button", name="Remove").click()
    await expect(team.get_by_role("status")).to_have_text("Mo is no longer a moderator.")
    await expect(members.get_by_role("listitem").filter(has_text=MODERATOR["email"])).to_have_count(
        0
    )
    assert (await shop.http.post("/api/auth/login", json=login)).status_code == 401


async def test_moderator_gets_moderation_view(make_shop: Any, open_page: Any) -> None:
    """A moderator's studio has the chat and its moderation only, and their delete works."""
    shop = await make_shop("p2p")
    show_id = await start_show(shop, "Mod check")
    shopper = await open_page("shopper")
    await shopper_joins_chat(shopper, f"{shop.server.url}/live/{show_id}", "Ana")
    await say(shopper, "rude words here")

    mod = await open_page("moderator")
    await moderator_logs_in(mod, shop)
    chat = mod.get_by_role("region", name="Chat", exact=True)
    await expect(chat.get_by_role("checkbox", name="Slow mode")).to_be_visible()
    await expect(chat.get_by_role("combobox", name="New shoppers wait")).to_be_visible()
    await expect(chat.get_by_role("list", name="Banned from this show")).to_be_attached()
    for hidden in ("Go live", "End show", "Add moderator", "Create stream key", "Save chat rules"):
        await expect(mod.get_by_role("button", name=hidden)).to_be_hidden()
    for region in ("Products", "Team", "OBS stream key", "Camera and microphone"):
        await expect(mod.get_by_role("region", name=region)).to_be_hidden()
    await mod.screenshot(path=str(SCREENSHOTS / "studio-moderator.png"))

    await chat.get_by_role("button", name="Delete message from Ana").click()
    await expect(shopper.locator(".chat-msg", has_text="rude words here")).to_have_count(0)
    await expect(chat.locator(".chat-msg", has_text="rude words here")).to_have_count(0)


async def test_moderator_messages_tagged(make_shop: Any, open_page: Any) -> None:
    """A moderator's chat message is tagged "moderator" on the shoppers' page, the seller's
    "seller"."""
    shop = await make_shop("p2p")
    show_id = await start_show(shop, "Tags")
    shopper = await open_page("shopper")
    await shopper.goto(f"{shop.server.url}/live/{show_id}")
    await expect(shopper.locator("#live-badge")).to_be_visible()
    mod = await open_page("moderator")
    await moderator_logs_in(mod, shop)
    await mod.get_by_label("Message to the chat").fill("Hi, I keep the chat friendly")
    await mod.get_by_role("button", name="Send").click()
    line = shopper.locator(".chat-msg", has_text="Hi, I keep the chat friendly")
    await expect(line.locator(".chat-author")).to_have_text("Mo")
    await expect(line.locator(".chat-tag")).to_have_text("moderator")
    token = shop.admin["Authorization"].removeprefix("Bearer ")
    ws_url = str(shop.http.base_url).rstrip("/").replace("http://", "ws://")  # the real address
    async with websockets.connect(f"{ws_url}/ws?token={token}") as seller:
        await seller.send(json.dumps({"type": "join", "livestreamId": show_id}))
        await seller.send(json.dumps({"type": "chat_send", "text": "Welcome, everyone"}))
        line = shopper.locator(".chat-msg", has_text="Welcome, everyone")
        await expect(line.locator(".chat-tag")).to_have_text("seller")


async def test_stream_key_shown_once_then_revoked(make_shop: Any, open_page: Any) -> None:
    """On the phone, the seller creates an OBS stream key (shown once), replaces it (the old one
    stops working), then revokes it."""
    shop = await make_shop("p2p")
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    seller = await open_page("seller-phone", **phone)
    await seller_logs_in(seller, shop)
    await seller.get_by_role("button", name="Shop settings").click()
    panel = seller.get_by_role("region", name="OBS stream key")
    await expect(panel).to_contain_text("No stream key")
    await panel.get_by_role("button", name="Create stream key").click()
    key_box = panel.get_by_label("Stream key (Bearer Token)")
    await expect(key_box).to_have_value(re.compile(r".{20,}"))
    key = await key_box.input_value()
    await expect(panel.get_by_label("Server (WHIP URL)")).to_have_value(
        f"{shop.server.url}/api/whip"
    )
    await expect(panel.get_by_role("button", name="Copy stream key")).to_be_visible()
    await expect(panel.get_by_role("status").first).to_have_text(
        f"A stream key is set (it ends in …{key[-4:]})."
    )
    await seller.screenshot(path=str(SCREENSHOTS / "studio-phone-stream-key.png"))
    # the key can publish (nothing is live: 409), and the page never shows it again
    whip = {"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"}
    assert (await shop.http.post("/api/whip", content=b"v=0\r\n", headers=whip)).status_code == 409
    await seller.reload()
    await seller.get_by_role("button", name="Shop settings").click()
    await expect(panel.get_by_role("status").first).to_contain_text(f"…{key[-4:]}")
    await expect(panel.get_by_label("Stream key (Bearer Token)")).to_have_value("")

    await panel.get_by_role("button", name="Replace stream key").click()
    await seller.get_by_role("dialog").get_by_role("button", name="Replace").click()
    await expect(key_box).to_have_value(re.compile(r".{20,}"))
    new_key = await key_box.input_value()
    assert new_key != key
    old_whip = whip
    whip = {**whip, "Authorization": f"Bearer {new_key}"}
    assert (
        await shop.http.post("/api/whip", content=b"v=0\r\n", headers=old_whip)
    ).status_code == 401
    assert (await shop.http.post("/api/whip", content=b"v=0\r\n", headers=whip)).status_code == 409

    await panel.get_by_role("button", name="Revoke stream key").click()
    await seller.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    await expect(panel).to_contain_text("No stream key")
    assert (await shop.http.post("/api/whip", content=b"v=0\r\n", headers=whip)).status_code == 401


async def test_new_shopper_wait_counts_down(make_shop: Any, open_page: Any) -> None:
    """With a new-shopper wait, a fresh shopper sees a countdown and why chat and likes wait."""
    shop = await make_shop("p2p")
    show_id = await start_show(shop, "Raid shield")
    mod = await open_page("moderator")
    await moderator_logs_in(mod, shop)
    await mod.get_by_label("New shoppers wait").select_option(label="2 min")
    notice = "New shoppers must watch for 2 min before they can chat or like."
    await expect(mod.get_by_role("alert").filter(has_text=notice)).to_be_visible()

    shopper = await open_page("shopper")
    await shopper_joins_chat(shopper, f"{shop.server.url}/live/{show_id}", "Newbie")
    timer = shopper.get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"^You can chat in 1[12]\d s$"))
    first = int(re.findall(r"\d+", await timer.inner_text())[0])
    await expect(timer).not_to_have_text(f"You can chat in {first} s")  # it counts down
    await say(shopper, "first!")
    await expect(shopper.locator(".chat-msg.failed", has_text="first!")).to_contain_text(
        "you can chat in"
    )
    await shopper.get_by_role("button", name="Like").click()
    like_refusal = shopper.get_by_role("alert").filter(has_text="you can like in")
    await expect(like_refusal).to_contain_text("New shoppers can like after watching a little")
    await expect(shopper.get_by_role("button", name="Like")).to_have_attribute(
        "aria-pressed", "false"
    )


async def test_guest_token_refused_then_retried(
    make_shop: Any, open_page: Any, page_errors: Any
) -> None:
    """A 429 on the guest token is explained on the page, which asks again after Retry-After."""
    shop = await make_shop("p2p")
    await start_show(shop, "Busy network")
    page_errors.allow_http_failures("/api/auth/guest")
    shopper = await open_page("shopper")
    asked: list[str] = []

    async def refuse_once(route: Any) -> None:
        asked.append(route.request.method)
        if len(asked) > 1:
            await route.continue_()
            return
        detail = {"detail": "Too many new shoppers from this address; try again in a minute"}
        await route.fulfill(status=429, headers={"Retry-After": "2"}, json=detail)

    await shopper.route("**/api/auth/guest", refuse_once)
    await shopper.goto(f"{shop.server.url}/")
    waiting = shopper.get_by_role("status").filter(has_text="Many new shoppers are joining")
    await expect(waiting).to_contain_text(re.compile(r"Trying again in [12] s"))
    await expect(shopper.locator("#live-badge")).to_be_visible()
    assert asked == ["POST", "POST"]
    stored = await shopper.evaluate("JSON.parse(localStorage['liveshop.guest']).user.id")
    assert stored.startswith("g_")
