"""Files on disk: the data directory (SQLite file, secret key, admin credentials) is readable by
the service's user only: the directory 0700, the SQLite file and its journals 0600. Existing
looser modes are tightened (and said so in the log) at every start."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from liveshop.config import Settings

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite…:///path`` URL (None for another database or ``:memory:``)."""
    if not database_url.startswith("sqlite"):
        return None
    _, _, rest = database_url.partition(":///")
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode & 0o777:
        path.chmod(mode)
        log.warning("%s was mode %o; now %o (readable by this user only)", path, current, mode)


def secure_data_dir(settings: Settings) -> None:
    """Create the data directory 0700 and the SQLite file 0600 (before SQLite creates it with the
    umask's mode), tightening existing ones."""
    data_dir = settings.data_dir
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(data_dir, DIR_MODE)
    db = sqlite_path(settings.effective_database_url)
    if db is None:
        return
    db.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if not db.exists():
        # an empty file is a valid, empty SQLite database
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    for path in (db, *(db.with_name(db.name + suffix) for suffix in SQLITE_SIDE_FILES)):
        if path.exists():
            _tighten(path, FILE_MODE)
