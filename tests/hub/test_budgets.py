"""Per-socket budgets: a hostile socket cannot turn likes or signalling into a flood (issue 14)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import websockets

from tests.hub.conftest import Client, Env


async def replies(client: Client, count: int) -> list[dict[str, Any]]:
    """The next ``count`` answers of the kinds a budgeted message gets (its result or an error)."""
    kinds = {"like_state", "error"}
    return [await client.wait_for(lambda e: e.get("type") in kinds) for _ in range(count)]


async def test_like_burst_is_cut_to_the_socket_budget(env: Env) -> None:
    """20 ``like_toggle`` at once: the first 5 are applied, the rest answered ``rate_limited``."""
    show = await env.start_show()
    shopper = await env.connect()
    await shopper.join(show)
    await asyncio.gather(*[shopper.send(type="like_toggle") for _ in range(20)])
    answers = await replies(shopper, 20)
    applied = [a for a in answers if a["type"] == "like_state"]
    refused = [a for a in answers if a["type"] == "error"]
    assert 5 <= len(applied) <= 6  # the burst, plus at most one token refilled meanwhile
    assert refused and all(e["code"] == "rate_limited" and e["retryAfter"] > 0 for e in refused)


async def signalling_pair(env: Env) -> tuple[Client, Client, str]:
    show = await env.start_show()
    shopper = await env.connect()
    await shopper.join(show)
    seller = await env.connect(env.admin_token)
    seller_peer = (await seller.join(show))["peerId"]
    await seller.wait_type("webrtc_viewer_joined")
    return shopper, seller, seller_peer


async def test_oversized_ice_candidate_is_refused(env: Env) -> None:
    """An ICE candidate over 1 KB is ``error invalid`` and never reaches the seller."""
    shopper, seller, seller_peer = await signalling_pair(env)
    big = {"candidate": "candidate:" + "x" * 2000, "sdpMid": "0"}
    await shopper.send(type="webrtc_ice_candidate", to=seller_peer, candidate=big)
    assert (await shopper.wait_type("error"))["code"] == "invalid"
    await shopper.send(type="webrtc_ice_candidate", to=seller_peer, candidate={"candidate": "ok"})
    assert (await seller.wait_type("webrtc_ice_candidate"))["candidate"] == {"candidate": "ok"}


async def test_signalling_flood_is_cut_to_the_socket_budget(env: Env) -> None:
    """100 candidates at once reach the seller at most as the budget allows (burst 60); the
    sender is told ``rate_limited`` for the rest."""
    shopper, seller, seller_peer = await signalling_pair(env)
    for i in range(100):
        await shopper.send(
            type="webrtc_ice_candidate", to=seller_peer, candidate={"candidate": f"c{i}"}
        )
    refused = await shopper.wait_type("error", code="rate_limited")
    assert refused["retryAfter"] > 0
    await shopper.send(type="ping")
    await shopper.wait_type("pong")  # every candidate before it was handled
    delivered = 0
    while True:
        try:
            await seller.wait_type("webrtc_ice_candidate", timeout=1.0)
        except TimeoutError:
            break
        delivered += 1
    assert 60 <= delivered <= 70


async def test_a_socket_that_keeps_flooding_is_closed(env: Env) -> None:
    """Past 60 ``rate_limited`` refusals in a minute the socket is closed with 1008; the seller's
    is not."""
    shopper, seller, seller_peer = await signalling_pair(env)
    with contextlib.suppress(websockets.ConnectionClosed):  # the close may come mid-flood
        for i in range(200):
            await shopper.send(
                type="webrtc_ice_candidate", to=seller_peer, candidate={"candidate": f"c{i}"}
            )
    code, _ = await asyncio.wait_for(shopper.closed, 5)
    assert code == 1008
    await seller.send(type="ping")
    await seller.wait_type("pong")
