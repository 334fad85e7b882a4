"""Each chat message reaches a socket once, whatever races a resend or a resume runs into:
a resend answered while its broadcast is still on its way, a broker slower on the process a
client resumes on than on the one it left."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from liveshop.storage import chat
from tests.hub.conftest import Client, Env


class SlowBroker:
    """Holds back the broadcast of chat messages (``only_first``: of the first one) until
    ``arrive`` is set, as a process whose broker lags behind the others' would receive them
    late."""

    def __init__(
        self, env: Env, monkeypatch: pytest.MonkeyPatch, *, only_first: bool = False
    ) -> None:
        self.in_flight, self.arrive = asyncio.Event(), asyncio.Event()
        broker = env.server.app.state.hub.broker
        publish = broker.publish

        async def delayed(topic: str, message: bytes) -> None:
            held = not (only_first and self.in_flight.is_set())
            if b'"chat_message"' in message and not self.arrive.is_set() and held:
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


def lose_the_first_broadcast(env: Env, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The broker drops the first chat broadcast, as when the process that stored the message
    stopped before publishing it; the event is set once it has."""
    broker = env.server.app.state.hub.broker
    publish, lost = broker.publish, asyncio.Event()

    async def losing_the_first(topic: str, message: bytes) -> None:
        if b'"chat_message"' in message and not lost.is_set():
            lost.set()
            return
        await publish(topic, message)

    monkeypatch.setattr(broker, "publish", losing_the_first)
    return lost


async def each_got_it_once(clients: tuple[Client, ...]) -> None:
    """No client has received a chat message twice (or one that was not waited for)."""
    for c in clients:
        await c.send(type="ping")
        await c.wait_type("pong")
        assert c.seen("chat_message") == []


async def test_a_resend_of_a_message_whose_broadcast_was_lost_reaches_the_room(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message stored but never broadcast (its process stopped between the two) reaches every
    socket once its sender resends it, and each socket gets it once."""
    lost = lose_the_first_broadcast(env, monkeypatch)
    sender, again, other = await sender_twice_and_another(env)
    await sender.send(type="chat_send", text="once", clientMessageId="r1")
    await asyncio.wait_for(lost.wait(), 5)
    await again.send(type="chat_send", text="once", clientMessageId="r1")
    first = await other.wait_type("chat_message", clientMessageId="r1")
    await sender.wait_type("chat_message", clientMessageId="r1")
    assert (await again.wait_type("chat_message", clientMessageId="r1"))["id"] == first["id"]
    await each_got_it_once((sender, again, other))


async def test_a_lost_broadcast_never_resent_reaches_the_room_from_the_database(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a broker shared by processes, a message stored but never broadcast, that its sender
    never resends, reaches every socket of the show once (the chat sweep)."""
    monkeypatch.setattr(env.server.app.state.hub.broker, "shared", True)  # as Redis's is
    lost = lose_the_first_broadcast(env, monkeypatch)
    sender, again, other = await sender_twice_and_another(env)
    await sender.send(type="chat_send", text="once", clientMessageId="r1")
    await asyncio.wait_for(lost.wait(), 5)
    for c in (sender, again, other):  # two sweeps find it missing: a few seconds
        await c.wait_type("chat_message", clientMessageId="r1", timeout=15)
    await each_got_it_once((sender, again, other))


async def test_a_resume_gets_a_lower_id_passed_on_while_it_was_away(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that left after message b and resumes after it gets a, a lower id committed
    late and passed on while it was away, even though a was stored long before b."""
    slow = SlowBroker(env, monkeypatch, only_first=True)
    show = await env.start_show()
    writer, other, leaver = await env.connect(), await env.connect(), await env.connect()
    for c in (writer, other, leaver):
        await c.join(show)
    await writer.send(type="chat_send", text="a", clientMessageId="w1")
    await slow.stored()
    await other.send(type="chat_send", text="b", clientMessageId="o1")
    b = await leaver.wait_type("chat_message", clientMessageId="o1")
    await leaver.close()
    async with env.server.db.session() as session:  # a's process took its id, then stalled
        (a,) = [
            m for m in await chat.after(session, show, after_id=None, limit=10) if m.text == "a"
        ]
        a.created_at -= timedelta(seconds=60)
    slow.arrive.set()
    await writer.wait_type("chat_message", clientMessageId="w1")  # passed on, the leaver away
    back = await env.connect()
    snap = await back.join(show, afterMessageId=b["id"])
    assert [m["text"] for m in snap["recentChat"]] == ["a"]


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
    await each_got_it_once((again,))


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
    await each_got_it_once((again,))


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
    await each_got_it_once((resumer,))
