"""The ``janus`` mode's placement in Redis, shared by every liveshop process (needs the ``redis``
extra). Keys, under ``{prefix}janus:``:

* ``procs`` (set): process ids that reported; ``load:{process}`` (hash ``s|{url}``, ``p|{url}``,
  ``v|{show}`` → count, expires after ``ttl``) and ``sessions:{process}`` (hash session id →
  JSON :class:`SessionRecord`, same expiry): refreshed by :meth:`RedisPlacement.report`, so a
  dead process's load and sessions vanish within ``ttl`` seconds;
* ``show:{id}`` (hash of JSON values, :class:`ShowRecord`), ``counters:{id}`` (hash ``feed`` / ``segment``),
  ``rooms:{id}`` (set of URLs), ``remotes:{id}`` (hash URL → JSON :class:`RemoteRecord`);
* ``lock:{name}``: ``SET NX PX`` with a random token, released by a compare-and-delete script.

Conditional writes (update/clear the publisher only if it is still the same session) are Lua
scripts, so they are atomic against the other processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from liveshop import redis_client

from .base import (
    LOCK_TTL_S,
    PLACEMENT_TTL_S,
    AbstractLock,
    Counter,
    Load,
    Placement,
    RemoteRecord,
    SessionRecord,
    ShowRecord,
    updatable_field,
)

LOCK_POLL_S = 0.02

_UPDATE_SHOW = """
if redis.call('HGET', KEYS[1], 'session_id') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""
_CLEAR_SHOW = """
if redis.call('HGET', KEYS[1], 'session_id') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _RedisLock(AbstractLock):
    def __init__(self, placement: RedisPlacement, key: str) -> None:
        self._placement = placement
        self._key = key
        self._token = secrets.token_hex(8)

    async def __aenter__(self) -> None:
        redis = self._placement.redis
        ttl_ms = int(self._placement.lock_ttl * 1000)
        # the holder may be another process: nothing to wait on but the key itself
        while not await redis.set(self._key, self._token, nx=True, px=ttl_ms):  # noqa: ASYNC110
            await asyncio.sleep(LOCK_POLL_S)

    async def __aexit__(self, *exc: object) -> None:
        await self._placement.redis.eval(_RELEASE, 1, self._key, self._token)


class RedisPlacement(Placement):
    """Placement shared through Redis (see module doc)."""

    shared = True
    errors = (RedisError,)

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "liveshop:",
        ttl: float = PLACEMENT_TTL_S,
        lock_ttl: float = LOCK_TTL_S,
        process_id: str | None = None,
    ) -> None:
        super().__init__(process_id)
        self.redis: Redis = redis_client.connect(url, decode_responses=True)
        self.prefix = f"{prefix}janus:"
        self.ttl = ttl
        self.lock_ttl = lock_ttl

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    async def start(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(
                    self._key("load", self.process_id), self._key("sessions", self.process_id)
                )
                pipe.srem(self._key("procs"), self.process_id)
                await pipe.execute()
        except RedisError:  # unreachable: the entries expire by themselves
            pass
        await self.redis.aclose()

    # load --------------------------------------------------------------------------------------

    async def report(self, load: Load) -> None:
        fields: dict[str, int] = {"alive": 1}
        fields.update({f"s|{url}": n for url, n in load.subscribers.items()})
        fields.update({f"p|{url}": n for url, n in load.publishers.items()})
        fields.update({f"v|{show}": n for show, n in load.viewers.items()})
        key = self._key("load", self.process_id)
        ttl_ms = int(self.ttl * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.pexpire(key, ttl_ms)
            pipe.pexpire(self._key("sessions", self.process_id), ttl_ms)
            pipe.sadd(self._key("procs"), self.process_id)
            await pipe.execute()

    async def _processes(self) -> list[str]:
        members = await self.redis.smembers(self._key("procs"))
        return sorted({_text(m) for m in members} | {self.process_id})

    async def others(self) -> Load:
        others = [p for p in await self._processes() if p != self.process_id]
        total = Load()
        if not others:
            return total
        async with self.redis.pipeline(transaction=False) as pipe:
            for process in others:
                pipe.hgetall(self._key("load", process))
            loads: list[dict[str, str]] = await pipe.execute()
        dead = [p for p, fields in zip(others, loads, strict=True) if not fields]
        if dead:
            await self.redis.srem(self._key("procs"), *dead)
        for fields in loads:
            one = Load()
            for name, value in fields.items():
                kind, _, what = name.partition("|")
                if kind == "s":
                    one.subscribers[what] = int(value)
                elif kind == "p":
                    one.publishers[what] = int(value)
                elif kind == "v":
                    one.viewers[int(what)] = int(value)
            total.add(one)
        return total

    async def alive(self, process_id: str) -> bool:
        if process_id == self.process_id:
            return True
        return bool(await self.redis.exists(self._key("load", process_id)))

    # shows -------------------------------------------------------------------------------------

    async def next_number(self, livestream_id: int, counter: Counter) -> int:
        return int(await self.redis.hincrby(self._key("counters", livestream_id), counter, 1))

    async def set_show(self, livestream_id: int, record: ShowRecord) -> None:
        key = self._key("show", livestream_id)
        mapping = {name: json.dumps(value) for name, value in record.__dict__.items()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            await pipe.execute()

    async def get_show(self, livestream_id: int) -> ShowRecord | None:
        fields = _texts(await self.redis.hgetall(self._key("show", livestream_id)))
        if not fields:
            return None
        # fields a newer process added are skipped (a rolling upgrade runs both for a while)
        known = {f.name for f in dataclasses.fields(ShowRecord)}
        record = ShowRecord(
            **{name: json.loads(value) for name, value in fields.items() if name in known}
        )
        if not await self.alive(record.owner):
            return None
        return record

    async def update_show(self, livestream_id: int, session_id: str, **fields: Any) -> bool:
        args: list[str] = [json.dumps(session_id)]
        for name, value in fields.items():
            args += [updatable_field(name), json.dumps(value)]
        done = await self.redis.eval(_UPDATE_SHOW, 1, self._key("show", livestream_id), *args)
        return bool(done)

    async def clear_show(self, livestream_id: int, session_id: str) -> bool:
        key = self._key("show", livestream_id)
        done = await self.redis.eval(_CLEAR_SHOW, 1, key, json.dumps(session_id))
        return bool(done)

    async def forget_show(self, livestream_id: int) -> None:
        await self.redis.delete(
            *(self._key(k, livestream_id) for k in ("show", "counters", "rooms", "remotes"))
        )

    # rooms and remote copies -------------------------------------------------------------------

    async def rooms(self, livestream_id: int) -> set[str]:
        return {_text(m) for m in await self.redis.smembers(self._key("rooms", livestream_id))}

    async def add_room(self, livestream_id: int, url: str) -> None:
        await self.redis.sadd(self._key("rooms", livestream_id), url)

    async def remove_room(self, livestream_id: int, url: str) -> None:
        await self.redis.srem(self._key("rooms", livestream_id), url)

    async def remotes(self, livestream_id: int) -> dict[str, RemoteRecord]:
        fields = _texts(await self.redis.hgetall(self._key("remotes", livestream_id)))
        return {url: RemoteRecord(**json.loads(value)) for url, value in fields.items()}

    async def set_remote(self, livestream_id: int, url: str, record: RemoteRecord) -> None:
        value = json.dumps(record.__dict__)
        await self.redis.hset(self._key("remotes", livestream_id), url, value)

    async def remove_remote(self, livestream_id: int, url: str) -> None:
        await self.redis.hdel(self._key("remotes", livestream_id), url)

    # sessions ----------------------------------------------------------------------------------

    async def add_session(self, session_id: str, record: SessionRecord) -> None:
        key = self._key("sessions", self.process_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, session_id, json.dumps(record.__dict__))
            pipe.pexpire(key, int(self.ttl * 1000))
            await pipe.execute()

    async def _all_sessions(self, hget: str | None) -> list[tuple[str, dict[str, str] | str]]:
        processes = await self._processes()
        async with self.redis.pipeline(transaction=False) as pipe:
            for process in processes:
                key = self._key("sessions", process)
                if hget is None:
                    pipe.hgetall(key)
                else:
                    pipe.hget(key, hget)
            found: list[Any] = await pipe.execute()
        return [(p, f) for p, f in zip(processes, found, strict=True) if f]

    async def find_session(self, session_id: str) -> SessionRecord | None:
        for _, value in await self._all_sessions(session_id):
            return _session(cast(str, value))
        return None

    async def remove_session(self, session_id: str) -> None:
        processes = await self._processes()
        async with self.redis.pipeline(transaction=False) as pipe:
            for process in processes:
                pipe.hdel(self._key("sessions", process), session_id)
            await pipe.execute()

    async def show_sessions(self, livestream_id: int) -> dict[str, SessionRecord]:
        result: dict[str, SessionRecord] = {}
        for _, table in await self._all_sessions(None):
            for session_id, value in cast(dict[str, str], table).items():
                record = _session(value)
                if record.livestream_id == livestream_id:
                    result[session_id] = record
        return result

    # locks -------------------------------------------------------------------------------------

    def lock(self, name: str) -> AbstractLock:
        return _RedisLock(self, self._key("lock", name))


def _session(value: str) -> SessionRecord:
    data = json.loads(value)
    kind: Literal["publisher", "viewer"] = "publisher" if data["kind"] == "publisher" else "viewer"
    return SessionRecord(
        livestream_id=int(data["livestream_id"]),
        kind=kind,
        url=str(data["url"]),
        janus_session=int(data["janus_session"]),
        handle=int(data["handle"]),
        owner=str(data["owner"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(fields: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in fields.items()}
