"""Join snapshots: the part every joiner shares is read once per room generation; each joiner's
own part (resume after a message id, whether it liked) is added to it.

Lossless: a joiner holds its socket's frames before asking, so an event broadcast after that
reaches it after the snapshot; a state read (or a read started) before an event broadcast since is
never used, because that broadcast bumped ``room.generation``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from liveshop import protocol
from liveshop.hub import figures
from liveshop.hub.connection import Connection
from liveshop.hub.room import Room
from liveshop.storage import chat, likes, livestreams
from liveshop.storage.engine import Database
from liveshop.storage.models import Livestream

RECENT_CHAT = 50
RESUME_CHAT_LIMIT = 500
# on a resume, messages stored up to this long before the client's last one, and messages with
# lower ids this room passed on in this long, are sent again too: with several processes a lower
# id can be committed (and broadcast) after a higher one
RESUME_LATE_SECONDS = 5.0
RESUME_LATE_WINDOW = 200
# a resuming client is told which of the last this-many messages it had seen were deleted while it
# was away (a page keeps at most 200 messages on screen)
RESUME_DELETIONS_WINDOW = 500


@dataclass(frozen=True, eq=False)
class ShowState:
    """The part of a join snapshot that is the same for every joiner, as of ``generation``."""

    generation: int
    stream: Livestream
    livestream: dict[str, Any]
    pins: list[dict[str, Any]]
    chat: list[dict[str, Any]]
    chat_ids: frozenset[int]
    read: figures.ShowRead  # the live figures of ``stream`` and ``pins``, at one revision


class Snapshots:
    """Builds ``snapshot`` answers for one hub (its database)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def shared(self, room: Room) -> ShowState:
        """What every joiner's snapshot shares (show, pins, last 50 messages), read once per room
        generation: concurrent joins share one read, later joins reuse it until the next event.

        Lossless: a joiner holds its socket's frames before asking, so an event broadcast after
        that reaches it after the snapshot; a state read (or a read started) before an event
        broadcast since is never used, because that broadcast bumped ``room.generation``."""
        generation = room.generation
        state: ShowState | None = room.state
        if state is not None and state.generation == generation:
            return state
        loading = room.state_loading
        if loading is None or loading[0] != generation:
            future = asyncio.ensure_future(self.load_state(room.show_id, generation))
            loading = (generation, future)
            room.state_loading = loading
        task = loading[1]
        try:
            loaded: ShowState = await asyncio.shield(task)
        finally:  # a failed read is not shared with later joins
            if room.state_loading is loading and task.done():
                room.state_loading = None
        if loaded.generation == room.generation:
            room.state = loaded
        return loaded

    async def load_state(self, show_id: int, generation: int) -> ShowState:
        async with self.db.session() as session:
            stream, pins = await livestreams.live_state(session, show_id)
            messages = await chat.recent(session, show_id, limit=RECENT_CHAT)
        payload = figures.pins_payload(pins)
        return ShowState(
            generation=generation,
            stream=stream,
            livestream=protocol.dump(protocol.livestream_out(stream, pins, 0)),
            pins=payload,
            chat=[protocol.dump(protocol.chat_out(m)) for m in messages],
            chat_ids=frozenset(m.id for m in messages),
            read=figures.ShowRead.of(stream, payload),
        )

    async def build(
        self, conn: Connection, room: Room, after: int | None
    ) -> tuple[str, frozenset[int]]:
        """The ``snapshot`` frame for ``conn`` joining ``room`` (with every message after
        ``after`` when resuming) and the chat ids it holds."""
        state = await self.shared(room)
        truncated = False
        recent, seen = state.chat, state.chat_ids
        deleted: list[int] = []
        async with self.db.session() as session:
            if after is not None:
                messages = await chat.after(
                    session, room.show_id, after_id=after, limit=RESUME_CHAT_LIMIT + 1
                )
                truncated = len(messages) > RESUME_CHAT_LIMIT
                late = await chat.late_before(
                    session,
                    room.show_id,
                    up_to=after,
                    seconds=RESUME_LATE_SECONDS,
                    window=RESUME_LATE_WINDOW,
                )
                # and those this room passed on while the client was between sockets, however
                # long before ``after`` they were stored (their process committed them late)
                known = {m.id for m in late}
                passed = [
                    i
                    for i in room.passed_on_since(RESUME_LATE_SECONDS, below=after)
                    if i not in known
                ]
                if passed:
                    late += await chat.visible_by_ids(session, room.show_id, passed)
                    late.sort(key=lambda m: m.id)
                messages = late + messages[:RESUME_CHAT_LIMIT]
                recent = [protocol.dump(protocol.chat_out(m)) for m in messages]
                # the client holds ``after`` itself: a broker slower here than where the client
                # saw it may still bring it (every other id it may hold is in the snapshot)
                seen = frozenset(m.id for m in messages) | {after}
                deleted = await chat.deleted_up_to(
                    session, room.show_id, up_to=after, window=RESUME_DELETIONS_WINDOW
                )
            liked = await likes.has_liked(session, room.show_id, conn.identity.id)
        stream = state.stream
        count = max(room.count, 0)
        peak = max(stream.peak_viewers, room.peak, count)
        # the joiner holds its frames: what the room has newer than this read follows the snapshot
        figures.merge(room, state.read, joiner=conn)
        room.active = stream.is_active
        fields: dict[str, Any] = {
            "livestream": {**state.livestream, "viewerCount": count, "peakViewers": peak},
            "pinnedProducts": state.pins,
            "recentChat": recent,
            "likes": stream.likes,
            "liked": liked,
            "viewerCount": count,
            "peakViewers": peak,
            "peerId": conn.peer_id,
            "slowMode": state.read.slow_mode,
            "newShopperWait": room.new_shopper_wait,
            "user": conn.identity.public(),
            "rev": state.read.rev,
        }
        if after is not None:
            fields["chatTruncated"] = truncated
            fields["deletedMessageIds"] = deleted
        return protocol.snapshot(**fields), seen
