"""End-to-end: a shopper's page that was disconnected while staff deleted a message drops that
message when it resumes (issue 16), as if it had seen the deletion live."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from playwright.async_api import expect

from tests.browser.test_pages import kill_sockets

pytestmark = pytest.mark.browser


async def test_deletion_while_offline_is_applied_on_resume(make_shop: Any, open_page: Any) -> None:
    """Offline shopper, message deleted meanwhile: after the reconnect it is gone, the rest stays."""
    shop = await make_shop("p2p")
    r = await shop.http.post("/api/livestreams", json={"title": "Resume"}, headers=shop.admin)
    show_id = r.json()["livestream"]["id"]
    page = await open_page("shopper")
    await page.goto(f"{shop.server.url}/live/{show_id}")
    await expect(page.locator("#live-badge")).to_be_visible()

    ws_url = str(shop.http.base_url).replace("http://", "ws://") + "/ws"
    token = shop.admin["Authorization"].removeprefix("Bearer ")
    async with websockets.connect(f"{ws_url}?token={token}") as seller:

        async def wait_for(kind: str) -> dict[str, Any]:
            while True:
                event: dict[str, Any] = json.loads(await seller.recv())
                events = event["events"] if event["type"] == "batch" else [event]
                for e in events:
                    if e["type"] == kind:
                        return e

        await seller.send(json.dumps({"type": "join", "livestreamId": show_id}))
        await wait_for("snapshot")
        ids = {}
        for text in ("keep me", "remove me"):
            await seller.send(json.dumps({"type": "chat_send", "text": text}))
            ids[text] = (await wait_for("chat_message"))["id"]
        await expect(page.locator(".chat-msg", has_text="remove me")).to_have_count(1)

        # the shopper drops off and cannot come back until the deletion is done
        await page.context.set_offline(True)
        user_id = await page.evaluate("JSON.parse(localStorage['liveshop.guest']).user.id")
        assert await kill_sockets(shop, user_id) == 1
        await expect(page.locator("#conn-banner")).to_be_visible()
        await seller.send(json.dumps({"type": "chat_delete", "messageId": ids["remove me"]}))
        assert (await wait_for("chat_deleted"))["messageIds"] == [ids["remove me"]]
        await page.context.set_offline(False)

        await expect(page.locator("#conn-banner")).to_be_hidden(timeout=20_000)
        await expect(page.locator(".chat-msg", has_text="remove me")).to_have_count(0)
        await expect(page.locator(".chat-msg", has_text="keep me")).to_have_count(1)
