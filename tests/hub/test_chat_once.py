"""Each chat message reaches a socket once, whatever races a resend or a resume runs into:
a resend answered while its broadcast is still on its way, a broker slower on the process a
client resumes on than on the one it left."""

from __future__ import annotations

import asyncio

import pytest

from liveshop.storage import chat
from tests.hub.conftest import Client, Env


class SlowBroker:
    """Holds back the broadcast of chat messages until ``arrive`` is set, as a process whose
    broker lags behind the others' would receive them late."""

    def __init__(self, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
        self.in_flight, self.arrive = asyncio.Event(), asyncio.Event()
        broker = env.server.app.state.hub.broker
        publish = broker.publish

        async def delayed(topic: str, message: bytes) -> None:
            if b'"chat_message"' in message and not self.arrive.is_set():
                self.in_flight.set()
                await self.arrive.wait()
            await publish(topic, message)

        monkeypatch.setattr(broker, "publish", delayed)

    async def stored(self) -> None:
        """Wait until a chat message is stored and its broadcast held back."""
        await asyncio.wait_for(self.in_flight.wait(), 5)


async def sender_twice_and_another(env: Env) -> tuple[Client, Client, Client]:
    """Two sockets of one guest (the sender and where it resends from) and another shopper's,
    all in a live show."""
    show = await env.start_show()
    token = await env.guest_token()
    sender, again, other = await env.connect(token), await env.connect(token), await env.connect()
    for c in (sender, again, other):
        await c.join(show)
    return sender, again, other


async def test_a_resend_of_a_message_whose_broadcast_was_lost_reaches_the_room(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message stored but never broadcast (its process stopped between the two) reaches every
    socket once its sender resends it, and each socket gets it once."""
    broker = env.server.app.state.hub.broker
    publish, lost = broker.publish, asyncio.Event()

    async def losing_the_first(topic: str, message: bytes) -> None:
        if b'"chat_message"' in message and not lost.is_set():
            lost.set()
            return
        await publish(topic, message)

    monkeypatch.setattr(broker, "publish", losing_the_first)
    sender, again, other = await sender_twice_and_another(env)
    await sender.send(type="chat_send", text="once", clientMessageId="r1")
    await asyncio.wait_for(lost.wait(), 5)
    await again.send(type="chat_send", text="once", clientMessageId="r1")
    first = await other.wait_type("chat_message", clientMessageId="r1")
    await sender.wait_type("chat_message", clientMessageId="r1")
    assert (await again.wait_type("chat_message", clientMessageId="r1"))["id"] == first["id"]
    for c in (sender, again, other):
        await c.send(type="ping")
        await c.wait_type("pong")
        assert c.seen("chat_message") == []


async def test_a_resend_of_a_message_the_socket_got_live_is_not_echoed(env: Env) -> None:
    """A socket resending a message whose broadcast it already received gets no second copy."""
    show = await env.start_show()
    token = await env.guest_token()
    sender, again = await env.connect(token), await env.connect(token)
    await sender.join(show)
    await again.join(show)
    await sender.send(type="chat_send", text="once", clientMessageId="r1")
    await again.wait_type("chat_message", clientMessageId="r1")
    await again.send(type="chat_send", text="once", clientMessageId="r1")
    await again.send(type="ping")
    await again.wait_type("pong")
    assert again.seen("chat_message") == []


async def test_a_resend_echoed_before_its_broadcast_arrives_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resend answered while the first send's broadcast is still on its way (another process
    stored it): the resending socket gets the message once, the others get the broadcast."""
    slow = SlowBroker(env, monkeypatch)
    sender, again, other = await sender_twice_and_another(env)
    await sender.send(type="chat_send", text="once", clientMessageId="r1")
    await slow.stored()
    await again.send(type="chat_send", text="once", clientMessageId="r1")
    echo = await again.wait_type("chat_message", clientMessageId="r1")
    slow.arrive.set()
    assert (await other.wait_type("chat_message", clientMessageId="r1"))["id"] == echo["id"]
    await sender.wait_type("chat_message", clientMessageId="r1")
    await again.send(type="ping")
    await again.wait_type("pong")
    assert again.seen("chat_message") == []


async def test_a_resume_after_a_message_drops_its_late_broadcast(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client resuming after message m (seen on a faster process) does not get m again when
    this process's broker brings it after the resume."""
    slow = SlowBroker(env, monkeypatch)
    show = await env.start_show()
    writer, resumer = await env.connect(), await env.connect()
    await writer.join(show)
    await writer.send(type="chat_send", text="m", clientMessageId="w1")
    await slow.stored()
    async with env.server.db.session() as session:
        (m,) = await chat.after(session, show, after_id=None, limit=10)
    snap = await resumer.join(show, afterMessageId=m.id)
    assert snap["recentChat"] == []
    slow.arrive.set()
    await writer.wait_type("chat_message", clientMessageId="w1")  # delivered to the room
    await resumer.send(type="ping")
    await resumer.wait_type("pong")
    assert resumer.seen("chat_message") == []
