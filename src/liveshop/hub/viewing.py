"""Viewer sessions for the show report, written in batches instead of one transaction per join.

A show's start brings thousands of joins in a few seconds; one INSERT per join (and one UPDATE per
leave) serializes on the database's write lock and starves the connection pool the joins' own
reads need. Here a join or leave only records a :class:`Visit` in memory; :meth:`ViewingLog.flush`
(every hub tick, about once a second, and at shutdown) writes every pending visit in one
transaction. The report is computed from whole seconds, so a second's delay changes nothing; a
process that dies loses at most its last second of joins and leaves (visits already written stay
open, as before).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from liveshop.storage import viewer_sessions
from liveshop.storage.engine import Database
from liveshop.storage.errors import Unavailable
from liveshop.storage.models import utcnow

log = logging.getLogger(__name__)


class Visit:
    """One shopper socket in one show, from join to leave."""

    __slots__ = ("address", "joined_at", "left_at", "left_written", "row_id", "show_id", "viewer")

    def __init__(self, show_id: int, viewer: str, address: str | None, joined_at: datetime) -> None:
        self.show_id = show_id
        self.viewer = viewer
        self.address = address
        self.joined_at = joined_at
        self.left_at: datetime | None = None
        self.row_id: int | None = None
        self.left_written = False


class ViewingLog:
    """Pending visits and the flush that writes them. Lives on the hub's event loop."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._new: list[Visit] = []  # not inserted yet
        self._left: list[Visit] = []  # inserted open, left since
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._new) + len(self._left)

    def open(self, show_id: int, viewer: str, address: str | None = None) -> Visit:
        """Record a join now (its time is now); written by the next flush."""
        visit = Visit(show_id, viewer, address, utcnow())
        self._new.append(visit)
        return visit

    def close(self, visit: Visit) -> None:
        """Record the leave now (idempotent); written by the next flush."""
        if visit.left_at is not None:
            return
        visit.left_at = utcnow()
        if visit.row_id is not None:
            self._left.append(visit)
        # not inserted yet: the insert carries left_at (or, if it is being inserted right now,
        # the flush notices after the insert and writes the leave next time)

    async def flush(self) -> None:
        """Write what is pending: new visits (with their leave when known), then leaves, in one
        transaction. One flush at a time; on a database error everything is kept for the next
        flush and the error is logged, never raised."""
        async with self._lock:
            new, self._new = self._new, []
            left, self._left = self._left, []
            if not new and not left:
                return
            rows: list[viewer_sessions.NewVisit] = []
            for visit in new:
                visit.left_written = visit.left_at is not None
                rows.append(
                    {
                        "livestream_id": visit.show_id,
                        "viewer": visit.viewer,
                        "address": visit.address,
                        "joined_at": visit.joined_at,
                        "left_at": visit.left_at,
                    }
                )
            leaves = [(v.row_id, v.left_at) for v in left if v.row_id and v.left_at]
            try:
                async with self._db.session() as session:
                    ids = await viewer_sessions.insert_visits(session, rows)
                    await viewer_sessions.close_visits(session, leaves)
            except Exception as exc:
                if isinstance(exc, Unavailable):
                    log.warning(
                        "%d viewer sessions kept for later: %s", len(rows) + len(leaves), exc
                    )
                else:
                    log.exception(
                        "could not write %d viewer sessions; retrying", len(rows) + len(leaves)
                    )
                self._new[:0] = new
                self._left[:0] = left
                return
            for visit in left:
                visit.left_written = True
            for visit, row_id in zip(new, ids, strict=True):
                visit.row_id = row_id
                if visit.left_at is not None and not visit.left_written:
                    self._left.append(visit)  # left while it was being inserted
