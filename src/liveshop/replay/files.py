"""Where a show's files live, and the chunk store for recordings uploaded while live.

Layout under the media directory::

    livestreams/{id}/chunks/000000.part …   chunks as uploaded (kept until completion)
    livestreams/{id}/studio.webm            the studio's recording, remuxed (seekable)
    livestreams/{id}/recording.webm …       the server's recording (sfu), by segment
    livestreams/{id}/thumbnail.jpg
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
MAX_SEQ = 999_999


def show_dir(media_dir: Path, livestream_id: int) -> Path:
    return media_dir / "livestreams" / str(livestream_id)


def remove_show_files(media_dir: Path, livestream_id: int) -> bool:
    """Delete every file of the show; True when there was something to delete."""
    directory = show_dir(media_dir, livestream_id)
    if not directory.exists():
        return False
    shutil.rmtree(directory)
    return True


class TooLarge(Exception):
    """The body passed its limit."""


class ChunkStore:
    """Chunks of one show's upload, on disk. Writes are atomic (temp file + rename), so a chunk is
    either absent or complete; writing the same ``seq`` again replaces it (idempotent)."""

    def __init__(self, media_dir: Path, livestream_id: int) -> None:
        self.directory = show_dir(media_dir, livestream_id) / "chunks"

    def path(self, seq: int) -> Path:
        return self.directory / f"{seq:06d}.part"

    def sizes(self) -> dict[int, int]:
        """Stored chunks: seq → size."""
        if not self.directory.exists():
            return {}
        out = {}
        for entry in self.directory.iterdir():
            if entry.suffix == ".part" and entry.stem.isdigit():
                out[int(entry.stem)] = entry.stat().st_size
        return out

    async def put(self, seq: int, body: AsyncIterator[bytes], *, limit: int) -> tuple[int, bool]:
        """Store chunk ``seq`` from ``body``; return (size, whether it is new).

        Raises :class:`TooLarge` past ``limit`` bytes and ``OSError`` (e.g. disk full); in both
        cases nothing of this chunk is left behind and earlier chunks are untouched.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path(seq)
        existed = final.exists()
        tmp = self.directory / f".{seq:06d}.{os.getpid()}.{id(body)}.tmp"
        size = 0
        try:
            with tmp.open("wb") as handle:
                async for piece in body:
                    size += len(piece)
                    if size > limit:
                        raise TooLarge(f"over {limit} bytes")
                    handle.write(piece)
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
        return size, not existed

    def first_bytes(self, seq: int, n: int = 4) -> bytes:
        with self.path(seq).open("rb") as handle:
            return handle.read(n)

    def missing(self, last_seq: int) -> list[int]:
        have = self.sizes()
        return [s for s in range(last_seq + 1) if s not in have]

    def assemble(self, last_seq: int, target: Path) -> int:
        """Concatenate chunks 0..last_seq in order into ``target``; return its size. Blocking."""
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with target.open("wb") as out:
            for seq in range(last_seq + 1):
                with self.path(seq).open("rb") as handle:
                    size += out.write(handle.read())  # chunks are bounded in size
        return size

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
