"""The real-time hub through a real server and real WebSocket clients, on both brokers."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import websockets

from tests.hub.conftest import Env
from tests.waiting import until


async def test_missing_or_forged_token_is_closed_with_4401(env: Env) -> None:
    """No token or a forged one: an ``unauthorized`` error, then close code 4401."""
    for token in ["", "forged.token.value"]:
        c = await env.connect(token=token)
        err = await c.wait_type("error")
        assert err["code"] == "unauthorized"
        code, _ = await asyncio.wait_for(c.closed, 5)
        assert code == 4401


async def test_join_answers_snapshot(env: Env) -> None:
    """The snapshot has the show, pins, chat, likes, liked, counts and a peer id."""
    show = await env.start_show()
    product = await env.product()
    await env.http.post(
        f"/api/livestreams/{show}/pin-product", json={"productId": product}, headers=env.admin
    )
    c = await env.connect()
    snap = await c.join(show)
    assert snap["livestream"]["id"] == show
    assert [p["id"] for p in snap["pinnedProducts"]] == [product]
    assert snap["recentChat"] == [] and snap["likes"] == 0 and snap["liked"] is False
    assert snap["peerId"].startswith("p_") and "viewerCount" in snap and "peakViewers" in snap


async def test_later_join_sees_what_happened_since_the_first(env: Env) -> None:
    """Snapshots share one read per room, yet a join after a chat, pin, like or edit sees it."""
    show = await env.start_show()
    first = await env.connect()
    await first.join(show)  # the room's shared state is read here
    await first.send(type="chat_send", text="since", clientMessageId="m1")
    await first.wait_type("chat_message")
    await first.send(type="like_toggle")
    await first.wait_type("likes_update")
    product = await env.product()
    await env.http.post(
        f"/api/livestreams/{show}/pin-product", json={"productId": product}, headers=env.admin
    )
    await first.wait_type("pinned_products_update")
    await env.http.patch(f"/api/livestreams/{show}", json={"title": "Renamed"}, headers=env.admin)
    await first.wait_type("stream_update")
    snap = await (await env.connect()).join(show)
    assert [m["text"] for m in snap["recentChat"]] == ["since"]
    assert [p["id"] for p in snap["pinnedProducts"]] == [product]
    assert snap["likes"] == 1 and snap["livestream"]["title"] == "Renamed"


async def test_concurrent_joins_share_one_read(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fifty shoppers joining at once cost one read of the show, not fifty."""
    hub = env.server.app.state.hub
    reads = 0
    load = hub.snapshots.load_state

    async def counted(*args: object) -> object:
        nonlocal reads
        reads += 1
        return await load(*args)

    monkeypatch.setattr(hub.snapshots, "load_state", counted)
    show = await env.start_show()
    clients = [await env.connect() for _ in range(50)]
    snaps = await asyncio.gather(*(c.join(show) for c in clients))
    assert all(s["livestream"]["id"] == show for s in snaps)
    assert reads == 1


async def test_join_unknown_show_is_not_found(env: Env) -> None:
    """Joining a show that does not exist is ``not_found``."""
    c = await env.connect()
    await c.send(type="join", livestreamId=999)
    assert (await c.wait_type("error"))["code"] == "not_found"


async def test_chat_is_persisted_then_broadcast_to_everyone(env: Env) -> None:
    """A chat reaches every socket in the show (sender included) and is already in REST history."""
    show = await env.start_show()
    a, b = await env.connect(await env.guest_token("Ana")), await env.connect()
    await a.join(show)
    await b.join(show)
    await a.send(type="chat_send", text="  hello\x07 there  ", clientMessageId="m1")
    got_b = await b.wait_type("chat_message")
    history = (await env.http.get(f"/api/livestreams/{show}/chat")).json()["messages"]
    assert [m["id"] for m in history] == [got_b["id"]]
    got_a = await a.wait_type("chat_message")
    assert got_a == got_b
    assert got_a["text"] == "hello there" and got_a["clientMessageId"] == "m1"
    assert got_a["user"]["name"] == "Ana" and got_a["user"]["role"] == "guest"


async def test_identity_comes_from_token_not_fields(env: Env) -> None:
    """A ``user`` field in chat_send cannot change who the message is from."""
    show = await env.start_show()
    token = await env.guest_token("Real")
    c = await env.connect(token)
    snap = await c.join(show)
    await c.send(
        type="chat_send",
        text="hi",
        user={"id": "u_admin", "name": "Admin", "role": "admin"},
        userId="x",
    )
    msg = await c.wait_type("chat_message")
    assert msg["user"] == snap["user"] and msg["user"]["name"] == "Real"


async def test_chat_text_rules(env: Env) -> None:
    """Empty, whitespace-only and over-500-character texts are ``invalid`` with ``ref``."""
    show = await env.start_show()
    c = await env.connect()
    await c.join(show)
    for i, text in enumerate(["", "   \x00 ", "x" * 501]):
        await c.send(type="chat_send", text=text, clientMessageId=f"r{i}")
        err = await c.wait_type("error")
        assert err["code"] == "invalid" and err["ref"] == f"r{i}"


async def test_chat_rate_limit_burst_of_five(env: Env) -> None:
    """The sixth message in a burst is ``rate_limited`` with ``retryAfter``."""
    show = await env.start_show()
    c = await env.connect()
    await c.join(show)
    for i in range(6):
        await c.send(type="chat_send", text=f"m{i}", clientMessageId=f"c{i}")
    err = await c.wait_type("error")
    assert err["code"] == "rate_limited" and err["ref"] == "c5" and 0 < err["retryAfter"] <= 1
    for _ in range(5):
        await c.wait_type("chat_message")


async def test_chat_before_join_and_after_end(env: Env) -> None:
    """Chat needs a joined show, and a live one (``not_live`` after the show ends)."""
    show = await env.start_show()
    c = await env.connect()
    await c.send(type="chat_send", text="hi")
    assert (await c.wait_type("error"))["code"] == "invalid"
    await c.join(show)
    await env.http.post(f"/api/livestreams/{show}/stop", headers=env.admin)
    await c.wait_type("stream_ended", livestreamId=show)
    await c.send(type="chat_send", text="hi")
    assert (await c.wait_type("error"))["code"] == "not_live"
    await c.send(type="like_toggle")
    assert (await c.wait_type("error"))["code"] == "not_live"


async def test_like_toggle(env: Env) -> None:
    """A like answers ``like_state`` to the sender and ``likes_update`` to all; again unlikes."""
    show = await env.start_show()
    a, b = await env.connect(), await env.connect()
    await a.join(show)
    await b.join(show)
    await a.send(type="like_toggle")
    assert await a.wait_type("like_state") == {
        "type": "like_state",
        "livestreamId": show,
        "liked": True,
        "likes": 1,
        "rev": 1,
    }
    assert (await b.wait_type("likes_update"))["likes"] == 1
    await a.send(type="like_toggle")
    assert (await a.wait_type("like_state"))["liked"] is False
    assert (await b.wait_type("likes_update"))["likes"] == 0


async def test_two_tabs_of_one_identity_like_once(env: Env) -> None:
    """Two sockets with the same token share one like."""
    show = await env.start_show()
    token = await env.guest_token()
    a, b = await env.connect(token), await env.connect(token)
    await a.join(show)
    await b.join(show)
    await a.send(type="like_toggle")
    await a.wait_type("like_state")
    await b.send(type="like_toggle")
    state = await b.wait_type("like_state")
    assert state["liked"] is False and state["likes"] == 0
    again = await env.connect(token)
    assert (await again.join(show))["liked"] is False


@pytest.mark.slow
async def test_concurrent_likes_from_many_identities_count_exactly(env: Env) -> None:
    """Many identities toggling at once end at exactly their number."""
    show = await env.start_show()
    n = 100
    clients = [await env.connect() for _ in range(n)]
    await asyncio.gather(*[c.join(show) for c in clients])
    await asyncio.gather(*[c.send(type="like_toggle") for c in clients])
    await asyncio.gather(*[c.wait_type("like_state", 20) for c in clients])
    r = await env.http.get(f"/api/livestreams/{show}")
    assert r.json()["livestream"]["likes"] == n


async def test_seller_only_messages_are_forbidden_for_shoppers(env: Env) -> None:
    """chat_delete, user_ban, slow_mode, offers and broadcast start are seller-only."""
    show = await env.start_show()
    c = await env.connect()
    await c.join(show)
    for message in [
        {"type": "chat_delete", "messageId": 1},
        {"type": "user_ban", "userId": "g_x"},
        {"type": "slow_mode", "seconds": 5},
        {"type": "webrtc_broadcast_start"},
        {"type": "webrtc_offer", "to": "p_x", "offer": {"type": "offer", "sdp": "v=0"}},
    ]:
        await c.send(**message)
        assert (await c.wait_type("error"))["code"] == "forbidden", message


async def test_seller_deletes_a_message(env: Env) -> None:
    """chat_delete hides the message everywhere and from history; unknown ids are not_found."""
    show = await env.start_show()
    seller, shopper = await env.connect(env.admin_token), await env.connect()
    await seller.join(show)
    await shopper.join(show)
    await shopper.send(type="chat_send", text="spam")
    msg = await seller.wait_type("chat_message")
    await seller.send(type="chat_delete", messageId=msg["id"])
    deleted = await shopper.wait_type("chat_deleted")
    assert deleted["messageIds"] == [msg["id"]]
    assert (await env.http.get(f"/api/livestreams/{show}/chat")).json()["messages"] == []
    await seller.send(type="chat_delete", messageId=msg["id"])
    assert (await seller.wait_type("error"))["code"] == "not_found"


async def test_ban_closes_sockets_and_blocks_rejoin(env: Env) -> None:
    """A banned user's sockets close (4403), their messages go with deleteMessages, rejoin is refused."""
    show = await env.start_show()
    seller = await env.connect(env.admin_token)
    await seller.join(show)
    token = await env.guest_token("Troll")
    troll, other = await env.connect(token), await env.connect()
    snap = await troll.join(show)
    await other.join(show)
    await troll.send(type="chat_send", text="bad")
    m1 = await other.wait_type("chat_message")
    await seller.send(type="user_ban", userId=snap["user"]["id"], deleteMessages=True)
    assert (await troll.wait_type("error"))["code"] == "banned"
    code, _ = await asyncio.wait_for(troll.closed, 5)
    assert code == 4403
    assert (await other.wait_type("chat_deleted"))["messageIds"] == [m1["id"]]
    again = await env.connect(token)
    await again.send(type="join", livestreamId=show)
    assert (await again.wait_type("error"))["code"] == "banned"


async def test_slow_mode(env: Env) -> None:
    """With slow mode a shopper's second message is refused with retryAfter; the seller is exempt."""
    show = await env.start_show()
    seller, shopper = await env.connect(env.admin_token), await env.connect()
    await seller.join(show)
    await shopper.join(show)
    await seller.send(type="slow_mode", seconds=30)
    assert (await shopper.wait_type("slow_mode"))["seconds"] == 30
    await shopper.send(type="chat_send", text="one")
    await shopper.wait_type("chat_message")
    await shopper.send(type="chat_send", text="two", clientMessageId="x")
    err = await shopper.wait_type("error")
    assert err["code"] == "slow_mode" and err["retryAfter"] > 20
    await seller.send(type="chat_send", text="a")
    await seller.send(type="chat_send", text="b")
    await seller.wait_type("chat_message", text="a")
    await seller.wait_type("chat_message", text="b")


async def test_ping_pong(env: Env) -> None:
    """ping answers pong."""
    c = await env.connect()
    await c.send(type="ping")
    await c.wait_type("pong")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        ('{"type": "nope"}', "invalid"),
        ('{"type": "join", "livestreamId": "1"}', "invalid"),
        ('{"type": "chat_send", "text": 5}', "invalid"),
        ('{"type": "chat_send", "text": "' + "x" * 17000 + '"}', "too_large"),
    ],
)
async def test_bad_messages_get_errors_and_keep_the_socket(env: Env, raw: str, code: str) -> None:
    """Each bad message gets an error; the socket stays usable."""
    c = await env.connect()
    await c.ws.send(raw)
    assert (await c.wait_type("error"))["code"] == code
    await c.send(type="ping")
    await c.wait_type("pong")


async def test_binary_frame_is_invalid(env: Env) -> None:
    """Binary frames are refused with an error, not a close."""
    c = await env.connect()
    await c.ws.send(b"\x00\x01")
    assert (await c.wait_type("error"))["code"] == "invalid"
    await c.send(type="ping")
    await c.wait_type("pong")


async def test_too_many_bad_messages_close_only_that_socket(env: Env) -> None:
    """Over 20 bad messages a minute close that socket with 1008; others are untouched."""
    show = await env.start_show()
    bad, good = await env.connect(), await env.connect()
    await good.join(show)
    for _ in range(22):
        with contextlib.suppress(websockets.ConnectionClosed):
            await bad.ws.send("{")
    code, _ = await asyncio.wait_for(bad.closed, 5)
    assert code == 1008
    await good.send(type="chat_send", text="still here")
    await good.wait_type("chat_message")


async def test_rest_events_reach_sockets(env: Env) -> None:
    """Pin, unpin, PATCH, start and stop from REST reach the sockets through the broker."""
    c = await env.connect()
    show = await env.start_show()
    started = await c.wait_type("stream_started")
    assert started["livestream"]["id"] == show
    await c.join(show)
    product = await env.product()
    await env.http.post(
        f"/api/livestreams/{show}/pin-product", json={"productId": product}, headers=env.admin
    )
    pins = await c.wait_type("pinned_products_update")
    assert [p["id"] for p in pins["pinnedProducts"]] == [product] and pins["pinnedProducts"][0][
        "price"
    ] == "5.00"
    await env.http.delete(f"/api/livestreams/{show}/pin-product/{product}", headers=env.admin)
    assert (await c.wait_type("pinned_products_update"))["pinnedProducts"] == []
    await env.http.patch(f"/api/livestreams/{show}", json={"title": "Renamed"}, headers=env.admin)
    assert (await c.wait_type("stream_update"))["livestream"]["title"] == "Renamed"
    await env.http.post(f"/api/livestreams/{show}/stop", headers=env.admin)
    await c.wait_type("stream_ended", livestreamId=show)


async def test_viewer_count_counts_distinct_shoppers_not_the_seller(env: Env) -> None:
    """Two tabs of one shopper count once, the seller not at all; leaving lowers the count."""
    show = await env.start_show()
    seller = await env.connect(env.admin_token)
    await seller.join(show)
    token = await env.guest_token()
    tab1, tab2, other = await env.connect(token), await env.connect(token), await env.connect()
    for c in (tab1, tab2, other):
        await c.join(show)
    await seller.wait_type("viewer_count", count=2, timeout=6)
    await other.close()
    update = await seller.wait_type("viewer_count", count=1, timeout=6)
    assert update["peak"] == 2
    r = await env.http.get(f"/api/livestreams/{show}")
    assert r.json()["livestream"]["peakViewers"] == 2


async def test_resume_after_message_id_is_exact(env: Env) -> None:
    """Reconnecting with afterMessageId returns every message after it, in order, after the
    ones stored in the 5 s before it (which another process may have committed late)."""
    show = await env.start_show()
    ids = []
    for i in range(8):
        writer = await env.connect()
        await writer.join(show)
        await writer.send(type="chat_send", text=f"m{i}")
        ids.append((await writer.wait_type("chat_message", text=f"m{i}"))["id"])
    c = await env.connect()
    snap = await c.join(show, afterMessageId=ids[2])
    assert [m["id"] for m in snap["recentChat"]] == ids[:2] + ids[3:]
    assert snap["chatTruncated"] is False


async def test_snapshot_recent_chat_is_last_fifty(env: Env) -> None:
    """Without afterMessageId the snapshot holds the last 50 messages, oldest first."""
    show = await env.start_show()
    await env.seed_chat(show, 60)
    c = await env.connect()
    snap = await c.join(show)
    assert [m["text"] for m in snap["recentChat"]] == [f"m{i}" for i in range(10, 60)]


async def test_resume_over_500_is_truncated(env: Env) -> None:
    """More than 500 missed messages: 500 in the snapshot and chatTruncated."""
    show = await env.start_show()
    await env.seed_chat(show, 510)
    c = await env.connect()
    snap = await c.join(show, afterMessageId=0)
    assert len(snap["recentChat"]) == 500 and snap["chatTruncated"] is True
    assert snap["recentChat"][0]["text"] == "m0"


async def test_messages_during_join_arrive_once(env: Env) -> None:
    """Chat sent while others join is delivered exactly once to each joiner (snapshot or live)."""
    show = await env.start_show()
    writer = await env.connect(env.admin_token)
    await writer.join(show)
    joiners = [await env.connect() for _ in range(10)]

    async def chatter() -> None:
        for i in range(5):
            await writer.send(type="chat_send", text=f"w{i}")
            await writer.wait_type("chat_message", text=f"w{i}")

    snaps = await asyncio.gather(chatter(), *[j.join(show) for j in joiners])
    for joiner, snap in zip(joiners, snaps[1:], strict=True):
        await joiner.send(type="ping")
        await joiner.wait_type("pong")
        live = [e["text"] for e in joiner.events if e.get("type") == "chat_message"]
        texts = [m["text"] for m in snap["recentChat"]] + live
        assert sorted(texts) == sorted(set(texts)), texts
        assert set(texts) <= {f"w{i}" for i in range(5)}


async def test_p2p_signalling_routes_between_seller_and_shopper(env: Env) -> None:
    """Seller learns viewers, offers reach one shopper with ``from`` set by the server, answers return."""
    show = await env.start_show()
    shopper = await env.connect()
    shopper_snap = await shopper.join(show)
    seller = await env.connect(env.admin_token)
    seller_snap = await seller.join(show)
    joined = await seller.wait_type("webrtc_viewer_joined")
    assert joined["peerId"] == shopper_snap["peerId"]
    await seller.send(type="webrtc_broadcast_start")
    assert (await shopper.wait_type("webrtc_broadcast_start"))["from"] == seller_snap["peerId"]
    await seller.send(
        type="webrtc_offer",
        to=shopper_snap["peerId"],
        offer={"type": "offer", "sdp": "v=0"},
        **{"from": "p_fake"},
    )
    offer = await shopper.wait_type("webrtc_offer")
    assert offer["from"] == seller_snap["peerId"] and offer["offer"]["sdp"] == "v=0"
    await shopper.send(
        type="webrtc_answer", to=offer["from"], answer={"type": "answer", "sdp": "v=0"}
    )
    assert (await seller.wait_type("webrtc_answer"))["from"] == shopper_snap["peerId"]
    await shopper.send(type="webrtc_ice_candidate", to=offer["from"], candidate={"candidate": "c"})
    await seller.wait_type("webrtc_ice_candidate")
    late = await env.connect()
    late_snap = await late.join(show)
    assert (await seller.wait_type("webrtc_viewer_joined"))["peerId"] == late_snap["peerId"]
    await late.close()
    assert (await seller.wait_type("webrtc_viewer_left"))["peerId"] == late_snap["peerId"]


async def test_signalling_rules(env: Env) -> None:
    """Unknown peers are not_found; a shopper may only address the seller."""
    show = await env.start_show()
    a, b = await env.connect(), await env.connect()
    await a.join(show)
    b_snap = await b.join(show)
    await a.send(type="webrtc_answer", to="p_nobody", answer={"type": "answer", "sdp": ""})
    assert (await a.wait_type("error"))["code"] == "not_found"

    async def refused_as_forbidden() -> bool:
        # b's place in the peer directory travels through the broker (Redis: asynchronously),
        # so until it arrives the answer is still not_found
        await a.send(
            type="webrtc_answer", to=b_snap["peerId"], answer={"type": "answer", "sdp": ""}
        )
        return (await a.wait_type("error"))["code"] == "forbidden"

    await until(refused_as_forbidden, timeout=5, message="b to be in a's peer directory")


async def test_slow_consumer_is_dropped_not_waited_on(env: Env) -> None:
    """A client that stops reading is closed with 1013 (counted in the metrics); a reading client
    gets every frame."""
    from prometheus_client import REGISTRY

    from liveshop import protocol
    from liveshop.broker.base import GLOBAL

    def slow_closed() -> float:
        return REGISTRY.get_sample_value("liveshop_sockets_closed_slow_total") or 0.0

    before = slow_closed()
    fast = await env.connect()
    await fast.send(type="ping")
    await fast.wait_type("pong")
    token = await env.guest_token()
    slow_ws = await websockets.connect(f"{env.server.ws_url}?token={token}", max_size=2**20)
    await slow_ws.send(json.dumps({"type": "ping"}))
    await slow_ws.recv()
    slow_ws.transport.pause_reading()  # stop reading: the server's writes back up
    filler = "y" * 60_000
    for i in range(400):  # ~24 MB, far more than socket buffers and the 2 MiB queue bound
        frame = {"type": "stream_update", "livestream": {"id": i, "description": filler}}
        await env.server.broker.publish(GLOBAL, protocol.envelope(frame, t="stream_update"))
        # the reading client keeps up: it gets every frame while the other one is backing up
        await fast.wait_for(lambda e, i=i: e.get("livestream", {}).get("id") == i, timeout=10)
    slow_ws.transport.resume_reading()
    with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
        while True:
            await asyncio.wait_for(slow_ws.recv(), 10)
    assert slow_ws.close_code == 1013
    assert slow_closed() == before + 1


async def test_watching_is_recorded_for_the_report(env: Env) -> None:
    """A shopper's join opens a viewer session and leaving closes it; the seller is not counted."""
    from liveshop.storage import analytics

    show = await env.start_show()
    seller, shopper = await env.connect(env.admin_token), await env.connect()
    await seller.join(show)
    snap = await shopper.join(show)
    await shopper.send(type="leave")
    await shopper.send(type="ping")
    await shopper.wait_type("pong")
    expected = [(snap["user"]["id"], True)]

    async def recorded() -> bool:
        async with env.server.db.session() as session:
            rows = await analytics.sessions(session, show)
        return [(viewer, left is not None) for viewer, _, left in rows] == expected

    # written in batches, about once a second
    await until(recorded, timeout=5, interval=0.1, message="the viewer session to be written")


@pytest.mark.slow
async def test_big_room_gets_every_message_once_in_order(env: Env) -> None:
    """More sockets than one delivery slice: each gets every chat message once, in order."""
    from liveshop.hub.room import DELIVERY_SLICE

    show = await env.start_show()
    viewers = [await env.connect() for _ in range(DELIVERY_SLICE + 44)]
    await asyncio.gather(*[v.join(show) for v in viewers])
    writer = viewers[0]
    for i in range(5):
        await writer.send(type="chat_send", text=f"m{i}")
    for v in viewers:
        await v.wait_type("chat_message", text="m4", timeout=20)
        assert [e["text"] for e in v.events if e.get("type") == "chat_message"] == [
            "m0",
            "m1",
            "m2",
            "m3",
        ]


async def test_a_resent_message_is_stored_once(env: Env) -> None:
    """The same clientMessageId sent again (a resend after a reconnect) is acknowledged to the
    sender and neither stored nor broadcast twice."""
    show = await env.start_show()
    token = await env.guest_token()
    sender, other = await env.connect(token), await env.connect()
    await sender.join(show)
    await other.join(show)
    await sender.send(type="chat_send", text="once", clientMessageId="r1")
    first = await sender.wait_type("chat_message", clientMessageId="r1")
    again = await env.connect(token)
    await again.join(show)
    await again.send(type="chat_send", text="once", clientMessageId="r1")
    assert (await again.wait_type("chat_message", clientMessageId="r1"))["id"] == first["id"]
    await other.wait_type("chat_message", clientMessageId="r1")
    await other.send(type="ping")
    await other.wait_type("pong")
    assert other.seen("chat_message") == []  # the resend was not broadcast
    async with env.server.db.session() as session:
        from liveshop.storage import chat

        assert len(await chat.after(session, show, after_id=None, limit=10)) == 1
