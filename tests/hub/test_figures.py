"""The live-figures rule (hub.figures): whatever order updates arrive in, the newest wins."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, cast

import pytest

from liveshop import protocol
from liveshop.domain.identity import Identity
from liveshop.hub import figures
from liveshop.hub.hub import Hub
from liveshop.hub.room import Room
from liveshop.storage.engine import Database
from tests.hub.conftest import Env

SHOW = 7


class Socket:
    """Stands in for a Connection in a room: records every event pushed to it, batches unpacked."""

    def __init__(self, name: str) -> None:
        self.peer_id = name
        self.identity = Identity(id=f"g_{name}", name=name, role="guest")
        self.holding = False
        self.show_id: int | None = None
        self.seen_chat: frozenset[int] = frozenset()
        self.events: list[dict[str, Any]] = []

    @property
    def role(self) -> str:
        return "shopper"

    def push(self, frame: str, chat_id: int | None = None, wire: bytes | None = None) -> None:
        event = json.loads(frame)
        self.events.extend(event["events"] if event.get("type") == "batch" else [event])

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


class Broker:
    """Presence reads the test answers by hand (each read waits in ``asked``); nothing else."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[asyncio.Future[int]] = asyncio.Queue()

    async def set_presence(self, *_: Any) -> None:
        return None

    async def publish(self, *_: Any) -> None:
        return None

    async def presence_count(self, _show: int) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.asked.put_nowait(future)
        return await future


def _hub(broker: Any = None) -> Hub:
    return Hub(db=cast(Database, None), broker=broker, node_id="test")  # no database use


def _room(*sockets: Socket) -> Room:
    room = Room(SHOW)
    room.active = True
    for s in sockets:
        room.add(s)  # type: ignore[arg-type]  # a stand-in
    return room


def _deliver(hub: Hub, room: Room, envelopes: list[bytes], flush_after: int) -> None:
    """Deliver ``envelopes`` as the broker would, the pending batch sent after ``flush_after`` of
    them (so some arrive alone, some in one batch), and the rest sent at the end."""
    for i, envelope in enumerate(envelopes):
        if i == flush_after:
            room.flush()
        hub._on_show(room, envelope)
    room.flush()


async def test_any_delivery_order_of_likes_updates_ends_in_the_newest() -> None:
    """Every order of 6 likes updates, with a batch cut anywhere: the last count is the newest, and
    no socket is ever shown an older count after a newer one."""
    hub = _hub()
    updates = [(rev, likes) for rev, likes in enumerate([3, 4, 3, 5, 6, 5], start=10)]
    newest = max(updates)[1]
    for order in itertools.permutations(updates):
        for cut in range(len(order) + 1):
            socket = Socket("a")
            room = _room(socket)
            _deliver(hub, room, [protocol.likes_update(SHOW, n, rev) for rev, n in order], cut)
            room.close()
            seen = socket.of("likes_update")
            assert seen[-1]["likes"] == newest, (order, cut)
            revs = [e["rev"] for e in seen]
            assert revs == sorted(set(revs)), (order, cut)


async def test_coalescing_keeps_the_newest_by_revision_not_by_arrival() -> None:
    """In one batch, a newer update followed by an older one sends the newer one only."""
    hub = _hub()
    socket = Socket("a")
    room = _room(socket)
    room.broadcast(protocol.frame({"type": "pong"}))  # a delivery just happened: batch from now
    hub._on_show(room, protocol.likes_update(SHOW, 9, 21))
    hub._on_show(room, protocol.likes_update(SHOW, 8, 20))
    room.flush()
    room.close()
    assert [(e["likes"], e["rev"]) for e in socket.of("likes_update")] == [(9, 21)]


async def test_an_older_pins_update_does_not_replace_a_newer_one() -> None:
    """Pins at revision 5 arriving after pins at revision 6 are dropped."""
    hub = _hub()
    socket = Socket("a")
    room = _room(socket)
    newer = [{"id": 1, "name": "Hat"}, {"id": 2, "name": "Mug"}]
    hub._on_show(room, protocol.pinned_products_update(SHOW, newer, 6))
    hub._on_show(room, protocol.pinned_products_update(SHOW, newer[:1], 5))
    room.flush()
    room.close()
    assert [e["pinnedProducts"] for e in socket.of("pinned_products_update")] == [newer]


async def test_an_older_slow_mode_does_not_win() -> None:
    """Slow mode 0 at revision 3 arriving after 30 s at revision 4 changes neither the sockets nor
    the rule the room enforces."""
    hub = _hub()
    socket = Socket("a")
    room = _room(socket)
    hub._on_show(room, protocol.slow_mode(SHOW, 30, 4))
    hub._on_show(room, protocol.slow_mode(SHOW, 0, 3))
    room.flush()
    room.close()
    assert [e["seconds"] for e in socket.of("slow_mode")] == [30]
    assert room.slow_mode == 30


async def test_an_older_show_update_does_not_reopen_an_ended_show() -> None:
    """A ``stream_update`` saying live (revision 8) arriving after ``stream_ended`` (revision 9) is
    dropped for every socket, and the room stays ended."""
    hub = _hub()
    inside, outside = Socket("in"), Socket("out")
    room = _room(inside)
    hub.rooms[SHOW] = room
    inside.show_id = SHOW
    hub.connections = {inside, outside}  # type: ignore[arg-type]
    hub._on_global(protocol.stream_ended(SHOW, None, 9))
    hub._on_global(protocol.stream_update({"id": SHOW, "isActive": True}, 8))
    room.close()
    for socket in (inside, outside):
        assert [e["type"] for e in socket.events] == ["stream_ended"]
    assert room.active is False


async def test_a_show_update_is_followed_by_newer_likes() -> None:
    """A show update at revision 4 carries the likes of then; the room's newer likes (revision 6)
    are sent again after it, so the page ends on the newest count."""
    hub = _hub()
    socket = Socket("a")
    room = _room(socket)
    hub.rooms[SHOW] = room
    socket.show_id = SHOW
    hub.connections = {socket}  # type: ignore[arg-type]
    hub._on_show(room, protocol.likes_update(SHOW, 12, 6))
    hub._on_global(protocol.stream_update({"id": SHOW, "likes": 10, "isActive": True}, 4))
    room.flush()
    room.close()
    assert [e["type"] for e in socket.events][-2:] == ["stream_update", "likes_update"]
    assert socket.events[-1]["likes"] == 12


async def test_a_viewer_count_read_earlier_but_answered_later_does_not_win() -> None:
    """Two presence reads overlap; the one started first answers last (5): the count stays the
    later read's (7)."""
    broker = Broker()
    hub = _hub(broker)
    socket = Socket("a")
    room = _room(socket)
    room.active = False  # no peak to store
    first = asyncio.create_task(hub._tick(room))
    first_read = await asyncio.wait_for(broker.asked.get(), 5)
    second = asyncio.create_task(hub._tick(room))
    second_read = await asyncio.wait_for(broker.asked.get(), 5)
    second_read.set_result(7)
    await second
    first_read.set_result(5)
    await first
    room.flush()
    room.close()
    assert [e["count"] for e in socket.of("viewer_count")] == [7]
    assert room.count == 7


async def test_a_joiner_with_an_older_snapshot_is_sent_the_newer_figure() -> None:
    """A snapshot read at revision 3 (8 likes) for a room that has revision 5 (10 likes): the joiner
    is sent the newer count; the room's sockets are told nothing."""
    hub = _hub()
    member, joiner = Socket("m"), Socket("j")
    room = _room(member)
    hub._on_show(room, protocol.likes_update(SHOW, 10, 5))
    room.flush()
    member.events.clear()
    read = figures.ShowRead(SHOW, 3, 8, [], 0, True, None)
    figures.merge(room, read, joiner=joiner)  # type: ignore[arg-type]
    room.flush()
    room.close()
    assert [(e["likes"], e["rev"]) for e in joiner.of("likes_update")] == [(10, 5)]
    assert member.events == []


async def test_a_newer_read_repairs_what_the_room_was_told() -> None:
    """A database read at revision 9 (11 likes) when the room last heard 10 likes at revision 5:
    the room's sockets are sent 11; unchanged pins and slow mode are not sent."""
    hub = _hub()
    socket = Socket("a")
    room = _room(socket)
    hub._on_show(room, protocol.likes_update(SHOW, 10, 5))
    hub._on_show(room, protocol.pinned_products_update(SHOW, [], 5))
    hub._on_show(room, protocol.slow_mode(SHOW, 0, 5))
    room.flush()
    socket.events.clear()
    figures.merge(room, figures.ShowRead(SHOW, 9, 11, [], 0, True, None))
    room.flush()
    room.close()
    assert [(e["type"], e["likes"], e["rev"]) for e in socket.events] == [("likes_update", 11, 9)]


async def test_a_read_of_an_unchanged_count_sends_it_with_its_newer_revision() -> None:
    """Likes unchanged at a newer revision (a like and an unlike since) are sent again with that
    revision, so a page knows no older update still on its way can change them."""
    hub = _hub()
    socket = Socket("a")
    room = _room(socket)
    hub._on_show(room, protocol.likes_update(SHOW, 10, 5))
    room.flush()
    socket.events.clear()
    figures.merge(room, figures.ShowRead(SHOW, 7, 10, [], 0, True, None))
    figures.merge(room, figures.ShowRead(SHOW, 7, 10, [], 0, True, None))
    room.flush()
    room.close()
    assert [(e["likes"], e["rev"]) for e in socket.events] == [(10, 7)]


@pytest.mark.parametrize("reads", [[3, 9, 5], [9, 3, 5], [5, 3, 9]])
def test_figures_keep_the_highest_revision(reads: list[int]) -> None:
    """Offers in any order leave the highest revision's frame."""
    known = figures.Figures()
    for rev in reads:
        known.offer("likes", rev, f"f{rev}")
    assert known.get("likes") == figures.Figure(9, "f9")


async def test_a_change_whose_update_was_lost_reaches_every_socket(env: Env) -> None:
    """A like stored with no update published (as if the broker lost it) is repaired from the
    database: both sockets get the new count, with no further event."""
    from liveshop.storage import likes

    show = await env.start_show()
    a, b = await env.connect(), await env.connect()
    await a.join(show)
    await b.join(show)
    async with env.server.db.session() as session:
        _, total, rev = await likes.toggle(session, show, "g_elsewhere")
    for socket in (a, b):
        update = await socket.wait_type("likes_update", timeout=2 * figures.SYNC_INTERVAL + 1)
        assert (update["likes"], update["rev"]) == (total, rev)
