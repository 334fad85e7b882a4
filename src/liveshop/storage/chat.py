"""Chat messages: persisted before anyone sees them; ids give the order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.errors import Conflict
from liveshop.storage.models import ChatMessage, utcnow


async def add(
    session: AsyncSession,
    *,
    livestream_id: int,
    user_id: str,
    user_name: str,
    user_role: str,
    text: str,
    client_message_id: str | None,
) -> ChatMessage:
    """Insert a message; raise :class:`Conflict` when ``user_id`` already stored one in the show
    under ``client_message_id``.

    Safe under concurrency: the unique index on (show, user, clientMessageId) refuses the second
    of two racing inserts (a resend reaching another process before the first commit), whatever
    the interleaving; on PostgreSQL the second waits for the first to commit or roll back. The
    session is unusable after the conflict: find the stored one in a new session."""
    message = ChatMessage(
        livestream_id=livestream_id,
        user_id=user_id,
        user_name=user_name,
        user_role=user_role,
        text=text,
        client_message_id=client_message_id,
        created_at=utcnow(),
    )
    session.add(message)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("this clientMessageId is already stored") from exc
    return message


async def find_sent(
    session: AsyncSession, livestream_id: int, user_id: str, client_message_id: str
) -> ChatMessage | None:
    """The message ``user_id`` already stored in the show under ``client_message_id`` (a client
    resending after a reconnect), or None."""
    result = await session.execute(
        select(ChatMessage)
        .where(
            ChatMessage.livestream_id == livestream_id,
            ChatMessage.user_id == user_id,
            ChatMessage.client_message_id == client_message_id,
        )
        .limit(1)
    )
    return result.scalar_one_or_none()


async def last_id(session: AsyncSession, livestream_id: int) -> int:
    """The highest id of the show's messages (0 when it has none)."""
    result = await session.execute(
        select(func.max(ChatMessage.id)).where(ChatMessage.livestream_id == livestream_id)
    )
    return int(result.scalar_one_or_none() or 0)


async def after(
    session: AsyncSession, livestream_id: int, *, after_id: int | None, limit: int
) -> list[ChatMessage]:
    """Visible messages with id > ``after_id`` (all when None), oldest first, at most ``limit``."""
    stmt = select(ChatMessage).where(
        ChatMessage.livestream_id == livestream_id, ChatMessage.deleted_at.is_(None)
    )
    if after_id is not None:
        stmt = stmt.where(ChatMessage.id > after_id)
    result = await session.execute(stmt.order_by(ChatMessage.id).limit(limit))
    return list(result.scalars())


async def visible_ids_after(
    session: AsyncSession, livestream_id: int, *, after_id: int, limit: int
) -> list[int]:
    """Ids of the visible messages with id > ``after_id``, ascending, at most ``limit``: one
    index range read, no message bodies (what a process checks it has passed on)."""
    result = await session.execute(
        select(ChatMessage.id)
        .where(
            ChatMessage.livestream_id == livestream_id,
            ChatMessage.id > after_id,
            ChatMessage.deleted_at.is_(None),
        )
        .order_by(ChatMessage.id)
        .limit(limit)
    )
    return list(result.scalars())


async def visible_by_ids(
    session: AsyncSession, livestream_id: int, ids: Iterable[int]
) -> list[ChatMessage]:
    """The visible messages of this show among ``ids``, in id order (unknown, deleted or other
    shows' ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    result = await session.execute(
        select(ChatMessage)
        .where(
            ChatMessage.livestream_id == livestream_id,
            ChatMessage.id.in_(wanted),
            ChatMessage.deleted_at.is_(None),
        )
        .order_by(ChatMessage.id)
    )
    return list(result.scalars())


async def late_before(
    session: AsyncSession, livestream_id: int, *, up_to: int, seconds: float, window: int
) -> list[ChatMessage]:
    """Visible messages with id < ``up_to`` stored at most ``seconds`` before message ``up_to``,
    oldest first, looked for among the ``window`` newest messages with id ≤ ``up_to``.

    With several server processes a message can be committed (and broadcast) after one with a
    higher id: a client that resumes after the higher id may lack it. These are the candidates;
    the client skips the ids it holds. Empty when ``up_to`` is not a message of this show. One
    index range read of at most ``window`` rows."""
    result = await session.execute(
        select(ChatMessage)
        .where(ChatMessage.livestream_id == livestream_id, ChatMessage.id <= up_to)
        .order_by(ChatMessage.id.desc())
        .limit(window)
    )
    rows = list(result.scalars())
    if not rows or rows[0].id != up_to:
        return []
    since = rows[0].created_at - timedelta(seconds=seconds)
    return [m for m in reversed(rows[1:]) if m.deleted_at is None and m.created_at >= since]


async def deleted_up_to(
    session: AsyncSession, livestream_id: int, *, up_to: int, window: int
) -> list[int]:
    """Ids of the deleted messages among the show's ``window`` newest messages with id ≤
    ``up_to`` (deleted or not), in id order: what a client that saw the chat up to ``up_to``
    may still show and must remove. One index range read of at most ``window`` rows."""
    newest = (
        select(ChatMessage.id, ChatMessage.deleted_at)
        .where(ChatMessage.livestream_id == livestream_id, ChatMessage.id <= up_to)
        .order_by(ChatMessage.id.desc())
        .limit(window)
        .subquery()
    )
    result = await session.execute(
        select(newest.c.id).where(newest.c.deleted_at.is_not(None)).order_by(newest.c.id)
    )
    return list(result.scalars())


async def recent(session: AsyncSession, livestream_id: int, *, limit: int) -> list[ChatMessage]:
    """The last ``limit`` visible messages, oldest first."""
    result = await session.execute(
        select(ChatMessage)
        .where(ChatMessage.livestream_id == livestream_id, ChatMessage.deleted_at.is_(None))
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(list(result.scalars())))


async def delete_ids(session: AsyncSession, livestream_id: int, ids: list[int]) -> list[int]:
    """Hide the given messages of this show; return the ids actually hidden (in id order)."""
    result = await session.execute(
        select(ChatMessage.id).where(
            ChatMessage.livestream_id == livestream_id,
            ChatMessage.id.in_(ids),
            ChatMessage.deleted_at.is_(None),
        )
    )
    found = sorted(result.scalars())
    if found:
        await session.execute(
            update(ChatMessage).where(ChatMessage.id.in_(found)).values(deleted_at=utcnow())
        )
    return found


async def delete_by_user(session: AsyncSession, livestream_id: int, user_id: str) -> list[int]:
    """Hide every visible message of ``user_id`` in this show; return their ids."""
    result = await session.execute(
        select(ChatMessage.id).where(
            ChatMessage.livestream_id == livestream_id,
            ChatMessage.user_id == user_id,
            ChatMessage.deleted_at.is_(None),
        )
    )
    return await delete_ids(session, livestream_id, list(result.scalars()))
