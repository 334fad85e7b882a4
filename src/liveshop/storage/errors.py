"""Storage errors the API turns into HTTP answers, and the test for "the database is away"."""

from __future__ import annotations

import errno

from sqlalchemy import exc as sa_exc


class Conflict(Exception):
    """A uniqueness rule refused the write (e.g. a second active livestream, a taken e-mail)."""


class NotFound(Exception):
    """The row does not exist (or was deleted)."""


class Unavailable(Exception):
    """The database cannot be reached right now (restarting, failing over, unreachable); nothing
    was committed by the failed block. Answered as 503 + ``Retry-After`` / ``error unavailable``."""

    retry_after = 5


# What a database that is restarting, failing over or unreachable raises: connecting is refused
# (asyncpg raises OSError, or its own errors while the server starts up or shuts down), a pooled
# connection dies mid-statement (SQLAlchemy's DBAPIError), or the pool times out waiting.
UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    Unavailable,
    ConnectionError,
    TimeoutError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)
_UNREACHABLE_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)
# asyncpg's (by name, so the module is imported only when PostgreSQL is used)
_ASYNCPG_UNAVAILABLE = frozenset(
    {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "ConnectionRejectionError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
        "InterfaceError",
        "InternalClientError",
    }
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached right now (try again later), as
    opposed to a refused statement (a constraint, a bad query) that retrying would not fix."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated or isinstance(
                current, sa_exc.OperationalError | sa_exc.InterfaceError
            ):
                return True
            orig = current.orig
            if orig is not None and _unavailable_driver_error(orig):
                return True
            if "connection" in str(current).lower() and "closed" in str(current).lower():
                return True
        elif isinstance(current, UNAVAILABLE_TYPES) or _unavailable_driver_error(current):
            return True
        elif isinstance(current, OSError) and (
            current.errno in _UNREACHABLE_ERRNOS or "connect call failed" in str(current).lower()
        ):
            return True  # asyncpg: "Multiple exceptions: Connect call failed …" (no errno)
        current = current.__cause__ or current.__context__
    return False


def _unavailable_driver_error(exc: BaseException) -> bool:
    for cls in type(exc).__mro__:
        if cls.__module__.startswith("asyncpg") and cls.__name__ in _ASYNCPG_UNAVAILABLE:
            return True
    return False
