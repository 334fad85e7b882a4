"""Chat that was stored but never reached this process: found in the database, passed on late.

With a broker shared by several processes, a message's broadcast can miss a process: the process
that stored it stopped between the commit and the publish, or this process subscribed to the
show a moment too late. Its sender may never resend it (it got its acknowledgement, or closed
the page). So every :data:`SWEEP_EVERY` seconds each room with local sockets reads the ids of the
show's recent visible messages and passes on, once, those it has not: a message counts as lost
when two reads in a row find it missing, so one still on its way through the broker is not read
twice. "Recent" is everything after the lowest id the room passed on in the last
:data:`SWEEP_MARGIN` seconds, and after every id stored before the room was made (``Room.
catch_up_floor``: its sockets had those in their snapshots, or on the process they came from); a
message committed later than that after its id was taken is not looked for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from liveshop import protocol
from liveshop.hub.room import Room
from liveshop.storage import chat
from liveshop.storage.engine import Database
from liveshop.storage.models import ChatMessage

log = logging.getLogger(__name__)

SWEEP_EVERY = 2  # hub ticks (seconds) between two reads of a room's recent chat
SWEEP_MARGIN = 10.0  # seconds of passed-on chat below which nothing is looked for
SWEEP_LIMIT = 4096  # ids read per room per sweep (the oldest first)


async def sweep(db: Database, room: Room) -> int:
    """Pass on the room's stored messages that two sweeps in a row found it had not; return how
    many. Each goes to every local socket once (sockets that hold it from a snapshot skip it);
    a copy arriving later through the broker is dropped (``Room.passed_on``). Raises what the
    database raises (``Unavailable``); the next sweep tries again."""
    after = max(room.resume_point(SWEEP_MARGIN), room.catch_up_floor())
    async with db.session() as session:
        ids = await chat.visible_ids_after(session, room.show_id, after_id=after, limit=SWEEP_LIMIT)
        missing = frozenset(i for i in ids if not room.passed_on(i))
        lost = missing & room.sweep_missing
        room.sweep_missing = missing - lost
        rows = await chat.visible_by_ids(session, room.show_id, lost) if lost else []
    sent = pass_on_stored(room, rows)
    if sent:
        log.warning(
            "show %s: passed on %d stored chat messages the broker never brought",
            room.show_id,
            sent,
        )
    return sent


def pass_on_stored(room: Room, rows: Iterable[ChatMessage]) -> int:
    """Broadcast each stored message in ``rows`` the room has not passed on yet (in the given
    order) to its local sockets, as its broker broadcast would have; return how many."""
    sent = 0
    for row in rows:
        if room.passed_on(row.id):  # it arrived through the broker meanwhile
            continue
        meta, frame = protocol.open_envelope(
            protocol.chat_message(protocol.dump(protocol.chat_out(row)))
        )
        room.broadcast(frame, meta.get("k"), row.id)
        sent += 1
    return sent
