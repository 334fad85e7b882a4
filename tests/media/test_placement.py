"""One contract, every janus placement: in memory and in Redis behave the same (Redis also shares)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from liveshop.media.janus.placement.base import (
    Load,
    Placement,
    RemoteRecord,
    SessionRecord,
    ShowRecord,
)
from liveshop.media.janus.placement.factory import create_placement
from liveshop.media.janus.placement.memory import MemoryPlacement
from tests.conftest import REDIS_HOST, REDIS_PORT, require
from tests.waiting import until

REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
MakePlacement = Callable[..., Awaitable[Placement]]


@pytest.fixture(params=["memory", "redis"])
async def make_placement(request: pytest.FixtureRequest) -> AsyncIterator[MakePlacement]:
    """A factory of started placements of one kind (Redis ones share a private prefix)."""
    prefix = f"p{uuid.uuid4().hex[:8]}:"
    made: list[Placement] = []
    if request.param == "redis":
        require("Redis", REDIS_HOST, REDIS_PORT)

    async def make(**kw: float) -> Placement:
        placement: Placement
        if request.param == "memory":
            placement = MemoryPlacement()
        else:
            from liveshop.media.janus.placement.redis import RedisPlacement

            placement = RedisPlacement(REDIS_URL, prefix=prefix, **kw)
        await placement.start()
        made.append(placement)
        return placement

    yield make
    for placement in made:
        await placement.close()


def _show(session_id: str, owner: str, feed: int = 1) -> ShowRecord:
    streams = [{"type": "video", "mindex": 0, "mid": "0", "codec": "vp8"}]
    return ShowRecord(session_id, owner, "http://a/janus", feed, "VP8", streams)


async def test_numbers_are_never_handed_out_twice(make_placement: MakePlacement) -> None:
    """Feed ids and segment numbers count up per show, separately."""
    placement = await make_placement()
    assert [await placement.next_number(3, "feed") for _ in range(3)] == [1, 2, 3]
    assert await placement.next_number(3, "segment") == 1
    assert await placement.next_number(4, "feed") == 1


async def test_show_record_changes_only_for_its_publisher(make_placement: MakePlacement) -> None:
    """The publisher record round-trips; update and clear name the session they expect."""
    placement = await make_placement()
    assert await placement.get_show(1) is None
    record = _show("pub-1", placement.process_id)
    await placement.set_show(1, record)
    assert await placement.get_show(1) == record
    assert not await placement.update_show(1, "someone-else", live=True)
    assert await placement.update_show(1, "pub-1", live=True, stats={"fps": 30.0})
    got = await placement.get_show(1)
    assert got is not None and got.live and got.stats == {"fps": 30.0}
    with pytest.raises(ValueError):
        await placement.update_show(1, "pub-1", origin="http://b/janus")
    assert not await placement.clear_show(1, "someone-else")
    assert await placement.clear_show(1, "pub-1")
    assert await placement.get_show(1) is None


async def test_rooms_remotes_and_forgetting_a_show(make_placement: MakePlacement) -> None:
    """Rooms and remote copies are kept per show and instance; forget_show drops them."""
    placement = await make_placement()
    await placement.add_room(1, "http://a/janus")
    await placement.add_room(1, "http://b/janus")
    await placement.remove_room(1, "http://a/janus")
    assert await placement.rooms(1) == {"http://b/janus"}
    await placement.set_remote(1, "http://b/janus", RemoteRecord(2, "liveshop-1-2"))
    assert await placement.remotes(1) == {"http://b/janus": RemoteRecord(2, "liveshop-1-2")}
    assert await placement.remotes(2) == {}
    await placement.set_show(1, _show("pub", placement.process_id))
    await placement.next_number(1, "feed")
    await placement.forget_show(1)
    assert await placement.rooms(1) == set()
    assert await placement.remotes(1) == {}
    assert await placement.get_show(1) is None
    assert await placement.next_number(1, "feed") == 1


async def test_sessions_are_found_and_removed(make_placement: MakePlacement) -> None:
    """Sessions are found by id and listed per show."""
    placement = await make_placement()
    me = placement.process_id
    viewer = SessionRecord(1, "viewer", "http://b/janus", 77, 88, me)
    await placement.add_session("v1", viewer)
    await placement.add_session("p1", SessionRecord(1, "publisher", "http://a/janus", 7, 8, me))
    await placement.add_session("v2", SessionRecord(2, "viewer", "http://a/janus", 7, 9, me))
    assert await placement.find_session("v1") == viewer
    assert set(await placement.show_sessions(1)) == {"v1", "p1"}
    await placement.remove_session("v1")
    await placement.remove_session("unknown")
    assert await placement.find_session("v1") is None
    assert set(await placement.show_sessions(1)) == {"p1"}


async def test_lock_is_exclusive(make_placement: MakePlacement) -> None:
    """Holders of the same lock never overlap; other names do not wait."""
    placement = await make_placement()
    inside: list[int] = []
    overlaps: list[int] = []

    async def hold(n: int) -> None:
        async with placement.lock("remote:1:b"):
            if inside:
                overlaps.append(n)
            inside.append(n)
            await asyncio.sleep(0)  # yield while holding it
            await asyncio.sleep(0)
            inside.remove(n)

    await asyncio.gather(*(hold(n) for n in range(5)))
    assert overlaps == []
    async with placement.lock("a"):
        other = placement.lock("b")
        await asyncio.wait_for(other.__aenter__(), 2)
        await other.__aexit__()


async def test_own_load_is_not_counted_among_the_others(make_placement: MakePlacement) -> None:
    """others() sums the other processes only; this process is always alive."""
    placement = await make_placement()
    await placement.report(Load(subscribers={"http://a/janus": 3}))
    assert await placement.others() == Load()
    assert await placement.alive(placement.process_id)
    assert not await placement.alive("nobody")


def test_factory_picks_memory_without_a_redis_url() -> None:
    """No Redis URL: the in-memory placement (Redis is not imported for it)."""
    assert isinstance(create_placement(""), MemoryPlacement)
    assert not create_placement("").shared


# --- Redis only: what several processes share ---------------------------------------------------


@pytest.fixture
def redis_prefix() -> str:
    require("Redis", REDIS_HOST, REDIS_PORT)
    return f"s{uuid.uuid4().hex[:8]}:"


async def _pair(prefix: str, ttl: float = 15.0) -> tuple[Placement, Placement]:
    a = create_placement(REDIS_URL, prefix=prefix, ttl=ttl)
    b = create_placement(REDIS_URL, prefix=prefix, ttl=ttl)
    await a.start()
    await b.start()
    assert a.shared and b.shared
    return a, b


async def test_processes_see_each_others_records_and_load(redis_prefix: str) -> None:
    """Two processes: load sums, shows, rooms, remotes and sessions are the same for both."""
    a, b = await _pair(redis_prefix)
    try:
        await a.report(Load({"http://a/janus": 2}, {"http://a/janus": 1}, {1: 1}))
        await b.report(Load({"http://a/janus": 1, "http://b/janus": 4}, {}, {1: 4}))
        c = create_placement(REDIS_URL, prefix=redis_prefix)
        await c.start()
        total = await c.others()
        await c.close()
        assert total == Load(
            {"http://a/janus": 3, "http://b/janus": 4}, {"http://a/janus": 1}, {1: 5}
        )
        await a.set_show(1, _show("pub", a.process_id))
        assert (await b.get_show(1)) == _show("pub", a.process_id)
        record = SessionRecord(1, "viewer", "http://b/janus", 5, 6, b.process_id)
        await b.add_session("v", record)
        assert await a.find_session("v") == record
        await a.remove_session("v")  # any process may forget another's session
        assert await b.find_session("v") is None
    finally:
        await a.close()
        await b.close()


async def _is_empty(placement: Placement) -> bool:
    return bool(await placement.others() == Load())


async def test_a_process_that_stops_reporting_drops_out(redis_prefix: str) -> None:
    """Its load, its sessions and its show vanish for the others after the TTL."""
    a, b = await _pair(redis_prefix, ttl=0.5)
    try:
        await b.report(Load({"http://b/janus": 3}, {}, {1: 3}))
        await b.add_session("v", SessionRecord(1, "viewer", "http://b/janus", 5, 6, b.process_id))
        await b.set_show(1, _show("pub", b.process_id))
        assert (await a.others()).subscribers == {"http://b/janus": 3}
        assert await a.get_show(1) is not None
        await until(lambda: _is_empty(a), timeout=5, message="the silent process's load to expire")
        assert await a.find_session("v") is None
        assert await a.get_show(1) is None  # its owner is gone: not live
    finally:
        await a.close()
        await b.close()


async def test_lock_is_exclusive_across_processes_and_expires(redis_prefix: str) -> None:
    """A lock held by one process blocks another until released, or until its TTL."""
    from liveshop.media.janus.placement.redis import RedisPlacement

    a = RedisPlacement(REDIS_URL, prefix=redis_prefix, lock_ttl=0.5)
    b = RedisPlacement(REDIS_URL, prefix=redis_prefix, lock_ttl=30)
    try:
        await a.lock("x").__aenter__()  # held and never released: a dead holder
        loop = asyncio.get_running_loop()
        started = loop.time()
        held = b.lock("x")
        await asyncio.wait_for(held.__aenter__(), 5)
        assert loop.time() - started >= 0.3  # only once a's lock expired
        waiting = asyncio.ensure_future(a.lock("x").__aenter__())
        done, _ = await asyncio.wait({waiting}, timeout=0.3)
        assert not done  # b holds it
        await a.lock("x").__aexit__()  # another holder's release does not free it
        done, _ = await asyncio.wait({waiting}, timeout=0.3)
        assert not done
        await held.__aexit__()
        await asyncio.wait_for(waiting, 5)  # long before b's 30 s TTL
    finally:
        await a.close()
        await b.close()


async def test_a_show_record_with_a_field_from_a_newer_process_is_read(redis_prefix: str) -> None:
    """A field this version does not know (written by a newer process during a rolling upgrade)
    is skipped, not a crash."""
    from redis.asyncio import Redis

    a, b = await _pair(redis_prefix)
    raw = Redis.from_url(REDIS_URL)
    try:
        await a.report(Load({"http://a/janus": 1}, {}, {1: 1}))  # a is alive
        await a.set_show(1, _show("pub", a.process_id))
        await raw.hset(f"{redis_prefix}janus:show:1", "from_the_future", '{"x": 1}')
        assert (await b.get_show(1)) == _show("pub", a.process_id)
    finally:
        await raw.aclose()
        await a.close()
        await b.close()
