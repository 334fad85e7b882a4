"""Two liveshop processes (two JanusMediaBackends) sharing placement in Redis and two real Janus."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liveshop.media.janus.backend import JanusMediaBackend
from liveshop.media.janus.client import JanusSession
from liveshop.media.janus.placement.redis import RedisPlacement
from tests.conftest import REDIS_HOST, REDIS_PORT, require
from tests.media.janus_fixture import JanusCluster
from tests.media.peers import Events, Publisher, Viewer, until_recording
from tests.waiting import until

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@dataclass
class Node:
    backend: JanusMediaBackend
    events: Events


@dataclass
class Nodes:
    a: Node
    b: Node
    origin: str
    second: str


def _backend(
    cluster: JanusCluster, media_dir: Path, events: Events, prefix: str, ttl: float = 15.0
) -> JanusMediaBackend:
    return JanusMediaBackend(
        janus_urls=cluster.urls,
        media_dir=media_dir,
        ice_servers=[],
        on_event=events,
        api_secret=cluster.api_secret,
        admin_secret=cluster.admin_key,
        placement=RedisPlacement(REDIS_URL, prefix=prefix, ttl=ttl),
    )


@pytest.fixture
async def nodes(janus_pair: JanusCluster, tmp_path: Path) -> AsyncIterator[Nodes]:
    """Processes A and B: same Janus pair, same Redis prefix, their own media directories."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    prefix = f"j{uuid.uuid4().hex[:8]}:"
    made = []
    for name in ("a", "b"):
        events = Events()
        backend = _backend(janus_pair, tmp_path / name, events, prefix)
        await backend.start()
        assert all(inst.up for inst in backend.instances)
        made.append(Node(backend, events))
    yield Nodes(made[0], made[1], *janus_pair.urls)
    for node in made:
        await node.backend.close()


async def no_subscribers(backend: JanusMediaBackend) -> bool:
    return not (await backend.placement.others()).subscribers


async def viewers_counted(node: Node, expected: int) -> bool:
    await node.backend.refresh(1)
    return bool(node.backend.stats(1)["viewers"] == expected)


async def live_on(node: Node) -> Publisher:
    publisher = Publisher()
    await publisher.start(node.backend)
    await node.events.wait("publisher_connected")
    return publisher


async def participants(url: str, api_secret: str, room: int = 1) -> list[dict[str, Any]]:
    """VideoRoom's own view of a room's publishers on one instance."""

    async def nothing() -> None:
        pass

    session = JanusSession(url, api_secret=api_secret, on_event=lambda h, e: None, on_lost=nothing)
    await session.start()
    try:
        handle = await session.attach()
        data = await session.request(handle, {"request": "listparticipants", "room": room})
        found: list[dict[str, Any]] = data["participants"]
        return found
    finally:
        await session.close()


async def test_viewers_are_spread_by_the_total_counts(nodes: Nodes) -> None:
    """Viewers placed alternately through A and B are spread by both processes' counts."""
    publisher = await live_on(nodes.a)  # A's monitor is a subscriber on the origin
    viewers = [Viewer(), Viewer(), Viewer(), Viewer()]
    for viewer, node in zip(viewers, (nodes.b, nodes.a, nodes.b, nodes.a), strict=True):
        await viewer.start(node.backend)
    where = await nodes.a.backend.where(1)
    # monitor + 4 viewers: second, origin, second, origin
    assert where["viewers"] == {nodes.origin: 2, nodes.second: 2}, where
    for viewer in viewers:
        await viewer.frame_indices(5)
        await viewer.pc.close()
    await publisher.pc.close()


async def test_the_remote_copy_is_created_once(nodes: Nodes, janus_pair: JanusCluster) -> None:
    """Two processes placing viewers on the second instance at once create one remote copy."""
    publisher = await live_on(nodes.a)
    viewers = [Viewer(), Viewer()]
    await asyncio.gather(
        viewers[0].start(nodes.a.backend), viewers[1].start(nodes.b.backend)
    )  # both see the second instance as the emptier one
    assert (await nodes.b.backend.where(1))["viewers"] == {nodes.second: 2}
    assert (await nodes.b.backend.where(1))["remotes"] == [nodes.second]
    remote = await participants(nodes.second, janus_pair.api_secret)
    assert [p["id"] for p in remote] == [1], remote
    for viewer in viewers:
        indices = await viewer.frame_indices(5)
        assert indices == sorted(indices)
        await viewer.pc.close()
    await publisher.pc.close()


async def test_delete_through_the_other_process_hangs_up(nodes: Nodes) -> None:
    """DELETE of B's viewer session handled by A hangs the viewer up and clears it everywhere."""
    publisher = await live_on(nodes.a)
    viewer = Viewer()
    await viewer.start(nodes.b.backend)
    await viewer.frame_indices(5)
    assert await nodes.a.backend.end_session(1, viewer.session_id) is True
    await viewer.until_ended()
    assert (await nodes.a.backend.where(1))["viewers"] == {}
    assert await nodes.a.backend.end_session(1, viewer.session_id) is False
    await until(lambda: viewers_counted(nodes.b, 0), message="B to forget the viewer")
    await viewer.pc.close()
    await publisher.pc.close()


async def test_the_publisher_leaving_ends_the_other_processes_viewers(nodes: Nodes) -> None:
    """The publisher's process ending the show hangs up B's viewers and clears the show in Redis."""
    publisher = await live_on(nodes.a)
    viewers = [Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(nodes.b.backend)  # one on each instance
    for viewer in viewers:
        await viewer.frame_indices(5)  # connected: a hang-up now ends their tracks
    await nodes.a.backend.end_show(1)
    for viewer in viewers:
        await viewer.until_ended()
    assert await nodes.b.backend.where(1) == {"origin": None, "viewers": {}, "remotes": []}
    assert await nodes.b.backend.placement.rooms(1) == set()
    await nodes.b.backend.refresh(1)
    assert not nodes.b.backend.is_live(1)
    for viewer in viewers:
        await viewer.pc.close()
    await publisher.pc.close()


async def test_the_publisher_hanging_up_ends_the_other_processes_viewers(nodes: Nodes) -> None:
    """The publisher (on A) hanging up ends B's viewers and clears their sessions in Redis."""
    publisher = await live_on(nodes.a)
    viewers = [Viewer(), Viewer()]
    for viewer in viewers:
        await viewer.start(nodes.b.backend)
    for viewer in viewers:
        await viewer.frame_indices(5)
    await publisher.pc.close()
    assert (await nodes.a.events.wait("publisher_left")).data["reason"] == "hangup"
    for viewer in viewers:
        await viewer.until_ended()
    assert await nodes.b.backend.placement.show_sessions(1) == {}
    assert (await nodes.b.backend.where(1))["remotes"] == []
    await until(lambda: viewers_counted(nodes.b, 0), message="B to forget the viewer")
    assert not nodes.b.backend.is_live(1)
    for viewer in viewers:
        await viewer.pc.close()


async def test_a_silent_process_drops_out_of_the_counts(
    janus_pair: JanusCluster, tmp_path: Path
) -> None:
    """A process that stops reporting (it died) leaves the subscriber counts after its TTL."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    prefix = f"j{uuid.uuid4().hex[:8]}:"
    a_events, b_events = Events(), Events()
    a = _backend(janus_pair, tmp_path / "a", a_events, prefix, ttl=1.0)
    b = _backend(janus_pair, tmp_path / "b", b_events, prefix, ttl=1.0)
    await a.start()
    await b.start()
    try:
        publisher = await live_on(Node(a, a_events))
        viewer = Viewer()
        await viewer.start(b)
        assert sum((await a.placement.others()).subscribers.values()) == 1
        assert b._sync is not None
        b._sync.cancel()  # B goes silent, as if killed: nothing of it is cleaned up
        await until(lambda: no_subscribers(a), timeout=5, message="B's subscribers to expire")
        assert (await a.where(1))["viewers"] == {}
        await a.refresh(1)
        assert a.stats(1)["viewers"] == 0
        await viewer.pc.close()
        await publisher.pc.close()
    finally:
        await a.close()
        await b.close()


async def test_replacing_through_the_other_process(nodes: Nodes) -> None:
    """B replaces A's publisher: A's leaves and records segment 1, B's is live with segment 2."""
    first = await live_on(nodes.a)
    viewer = Viewer()
    await viewer.start(nodes.a.backend)
    await viewer.frame_indices(5)
    await until_recording(nodes.a.backend)  # segment 1 has begun
    second = Publisher()
    second.video.count = 10_000
    await second.start(nodes.b.backend, replace=True)
    await nodes.a.events.wait("publisher_left")
    await viewer.until_ended()  # as in one process, the replaced publisher's viewers are hung up
    assert (await nodes.a.events.wait("recording_ready")).data["segment"] == 1
    await nodes.b.events.wait("publisher_connected")
    late = Viewer()
    await late.start(nodes.a.backend)
    assert (await late.frame_indices(5))[0] >= 10_000
    assert (await nodes.a.backend.where(1))["origin"] is not None
    await until_recording(nodes.b.backend)  # segment 2 has begun
    await nodes.b.backend.end_show(1)
    ready = await nodes.b.events.wait("recording_ready")
    assert ready.data["segment"] == 2 and ready.data["path"].endswith("recording-2.webm")
    for pc in (viewer.pc, late.pc, first.pc, second.pc):
        await pc.close()


async def test_own_stats_count_each_session_in_one_process_only(nodes: Nodes) -> None:
    """Publisher through A, viewer through B: ``stats`` of both show the whole show, while
    ``own_stats`` (what /metrics sums over processes) has the publisher only in A and the viewer
    only in B."""
    publisher = await live_on(nodes.a)
    viewer = Viewer()
    await viewer.start(nodes.b.backend)
    await viewer.frame_indices(5)
    await until(lambda: viewers_counted(nodes.a, 1))
    await until(lambda: viewers_counted(nodes.b, 1))
    a, b = nodes.a.backend.own_stats(1), nodes.b.backend.own_stats(1)
    assert (a["viewers"], b["viewers"]) == (0, 1)
    assert a["publisher"] is not None and b["publisher"] is None

    async def b_sees_the_publisher() -> bool:
        await nodes.b.backend.refresh(1)
        return nodes.b.backend.stats(1)["publisher"] is not None

    await until(b_sees_the_publisher)  # A reports its publisher's figures every few seconds
    await viewer.pc.close()
    await publisher.pc.close()
