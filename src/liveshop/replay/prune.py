"""Retention: delete the recordings of shows that ended long ago (the shows themselves stay)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select

from liveshop.replay.files import remove_show_files, show_dir
from liveshop.storage.engine import Database
from liveshop.storage.models import Livestream, Recording, utcnow


async def prune(
    db: Database, media_dir: Path, older_than: timedelta, *, dry_run: bool
) -> list[int]:
    """Ids of ended shows older than ``older_than`` that have files; unless ``dry_run``, their
    files are deleted and the shows marked as not recorded."""
    cutoff = utcnow() - older_than
    async with db.session() as session:
        result = await session.execute(
            select(Livestream.id).where(
                Livestream.is_active.is_(False), Livestream.end_time < cutoff
            )
        )
        candidates = list(result.scalars())
    ids = [i for i in candidates if show_dir(media_dir, i).exists()]
    if dry_run or not ids:
        return ids
    for livestream_id in ids:
        await asyncio.to_thread(remove_show_files, media_dir, livestream_id)
    async with db.session() as session:
        await session.execute(delete(Recording).where(Recording.livestream_id.in_(ids)))
        for stream in (
            await session.execute(select(Livestream).where(Livestream.id.in_(ids)))
        ).scalars():
            stream.video_url = None
            stream.thumbnail_url = None
            stream.is_recorded = False
            stream.duration_seconds = None
    return ids
