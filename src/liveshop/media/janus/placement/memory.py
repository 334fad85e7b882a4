"""The placement kept in this process: the default, for one liveshop process in ``janus`` mode."""

from __future__ import annotations

import asyncio
from typing import Any

from .base import (
    AbstractLock,
    Counter,
    Load,
    Placement,
    RemoteRecord,
    SessionRecord,
    ShowRecord,
    updatable_field,
)


class _MemoryLock(AbstractLock):
    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()


class MemoryPlacement(Placement):
    """Everything in this process: the default, for one liveshop process in ``janus`` mode."""

    def __init__(self, process_id: str | None = None) -> None:
        super().__init__(process_id)
        self._counters: dict[tuple[int, str], int] = {}
        self._shows: dict[int, ShowRecord] = {}
        self._rooms: dict[int, set[str]] = {}
        self._remotes: dict[int, dict[str, RemoteRecord]] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def report(self, load: Load) -> None:
        pass

    async def others(self) -> Load:
        return Load()

    async def alive(self, process_id: str) -> bool:
        return process_id == self.process_id

    async def next_number(self, livestream_id: int, counter: Counter) -> int:
        key = (livestream_id, counter)
        self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters[key]

    async def set_show(self, livestream_id: int, record: ShowRecord) -> None:
        self._shows[livestream_id] = _copy(record)

    async def get_show(self, livestream_id: int) -> ShowRecord | None:
        record = self._shows.get(livestream_id)
        return _copy(record) if record is not None else None

    async def update_show(self, livestream_id: int, session_id: str, **fields: Any) -> bool:
        record = self._shows.get(livestream_id)
        if record is None or record.session_id != session_id:
            return False
        for name, value in fields.items():
            setattr(record, updatable_field(name), value)
        return True

    async def clear_show(self, livestream_id: int, session_id: str) -> bool:
        record = self._shows.get(livestream_id)
        if record is None or record.session_id != session_id:
            return False
        del self._shows[livestream_id]
        return True

    async def forget_show(self, livestream_id: int) -> None:
        for counter in ("feed", "segment"):
            self._counters.pop((livestream_id, counter), None)
        self._shows.pop(livestream_id, None)
        self._rooms.pop(livestream_id, None)
        self._remotes.pop(livestream_id, None)

    async def rooms(self, livestream_id: int) -> set[str]:
        return set(self._rooms.get(livestream_id, ()))

    async def add_room(self, livestream_id: int, url: str) -> None:
        self._rooms.setdefault(livestream_id, set()).add(url)

    async def remove_room(self, livestream_id: int, url: str) -> None:
        self._rooms.get(livestream_id, set()).discard(url)

    async def remotes(self, livestream_id: int) -> dict[str, RemoteRecord]:
        return dict(self._remotes.get(livestream_id, {}))

    async def set_remote(self, livestream_id: int, url: str, record: RemoteRecord) -> None:
        self._remotes.setdefault(livestream_id, {})[url] = record

    async def remove_remote(self, livestream_id: int, url: str) -> None:
        self._remotes.get(livestream_id, {}).pop(url, None)

    async def add_session(self, session_id: str, record: SessionRecord) -> None:
        self._sessions[session_id] = record

    async def find_session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.get(session_id)

    async def remove_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def show_sessions(self, livestream_id: int) -> dict[str, SessionRecord]:
        return {k: v for k, v in self._sessions.items() if v.livestream_id == livestream_id}

    def lock(self, name: str) -> AbstractLock:
        return _MemoryLock(self._locks.setdefault(name, asyncio.Lock()))


def _copy(record: ShowRecord) -> ShowRecord:
    return ShowRecord(**{**record.__dict__, "streams": [dict(s) for s in record.streams]})
