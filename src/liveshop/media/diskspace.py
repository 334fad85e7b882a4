"""Recording when the disk fills up: when to give up on a segment and when to start the next.

A recording segment stops before the disk is completely full: once the free space falls under
:func:`reserve` (checked by the writer about once a second), so that the database, the logs and
the segment's own closing writes still have room; or when a write fails anyway (``ENOSPC``, the
disk went away). It is closed with what it holds, which stays playable (live WebM / Matroska need
no index). The backend then waits for
:func:`space_returned`, checked every :data:`CHECK_INTERVAL`, and starts a new segment at the next
keyframe. Live video never waits on the disk: the forwarder only queues packets for the writer.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
from collections.abc import Callable
from pathlib import Path

CHECK_INTERVAL = 1.0  # seconds between looks at the free space
RESERVE_BYTES = 32 << 20  # a recording stops when less is free (or 2 % of a smaller disk)
RESUME_FREE_BYTES = 64 << 20  # free space that resumes a paused recording (or 10 % of the disk)


def reserve(total: int) -> int:
    """Free bytes a recording leaves untouched on a disk of ``total`` bytes."""
    return min(RESERVE_BYTES, total // 50)


def check_room(directory: Path) -> None:
    """Raise ``OSError(ENOSPC)`` when the free space of ``directory``'s disk is under the reserve."""
    usage = shutil.disk_usage(directory)
    if usage.free < reserve(usage.total):
        raise OSError(errno.ENOSPC, f"only {usage.free} bytes left on the recordings' disk")


def reason(exc: BaseException) -> str:
    """``disk_full`` for ENOSPC / EDQUOT, else ``write_failed``."""
    code = getattr(exc, "errno", None)
    return "disk_full" if code in (errno.ENOSPC, errno.EDQUOT) else "write_failed"


def resume_threshold(directory: Path) -> int:
    """Free bytes needed to start recording again: 64 MiB, or a tenth of a smaller disk."""
    try:
        total = shutil.disk_usage(directory).total
    except OSError:
        return RESUME_FREE_BYTES
    return min(RESUME_FREE_BYTES, total // 10)


def space_returned(directory: Path) -> bool:
    """True when the filesystem of ``directory`` (or its nearest existing parent) has room."""
    path = directory
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free >= resume_threshold(path)
    except OSError:
        return False


async def wait_for_space(directory: Path, give_up: Callable[[], bool]) -> bool:
    """Wait until :func:`space_returned`; False if ``give_up()`` turned true first."""
    while not give_up():
        if await asyncio.to_thread(space_returned, directory):
            return True
        await asyncio.sleep(CHECK_INTERVAL)
    return False
