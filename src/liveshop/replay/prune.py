"""Retention: delete the recordings of shows that ended long ago (the shows themselves stay)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from liveshop.replay.files import remove_show_files, show_dir
from liveshop.storage import recordings
from liveshop.storage.engine import Database
from liveshop.storage.models import utcnow


async def prune(
    db: Database, media_dir: Path, older_than: timedelta, *, dry_run: bool
) -> list[int]:
    """Ids of ended shows older than ``older_than`` that have files; unless ``dry_run``, their
    files are deleted and the shows marked as not recorded."""
    async with db.session() as session:
        candidates = await recordings.ended_before(session, utcnow() - older_than)
    ids = [i for i in candidates if show_dir(media_dir, i).exists()]
    if dry_run or not ids:
        return ids
    for livestream_id in ids:
        await asyncio.to_thread(remove_show_files, media_dir, livestream_id)
    async with db.session() as session:
        await recordings.forget(session, ids)
    return ids
