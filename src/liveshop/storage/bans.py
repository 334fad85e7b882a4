"""Who is banned from which show: identities, and (an option of a ban) client addresses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.models import AddressBan, Ban


async def banned_users(session: AsyncSession, livestream_id: int) -> set[str]:
    """The ids of every user banned from the show."""
    result = await session.execute(select(Ban.user_id).where(Ban.livestream_id == livestream_id))
    return set(result.scalars())


async def banned_addresses(session: AsyncSession, livestream_id: int) -> dict[str, str]:
    """Every client address banned from the show → the user whose ban it came with."""
    result = await session.execute(
        select(AddressBan.address, AddressBan.user_id).where(
            AddressBan.livestream_id == livestream_id
        )
    )
    return {address: user for address, user in result.all()}


async def ban(session: AsyncSession, livestream_id: int, user_id: str) -> None:
    """Ban ``user_id`` from the show; banning twice changes nothing."""
    await session.merge(Ban(livestream_id=livestream_id, user_id=user_id))


async def ban_address(
    session: AsyncSession, livestream_id: int, address: str, user_id: str
) -> None:
    """Ban the client ``address`` from the show (``user_id``: whose ban it came with)."""
    await session.merge(AddressBan(livestream_id=livestream_id, address=address, user_id=user_id))


async def unban(session: AsyncSession, livestream_id: int, user_id: str) -> bool:
    """Lift ``user_id``'s ban and the address bans that came with it; False when there was none."""
    gone = await session.execute(
        delete(Ban).where(Ban.livestream_id == livestream_id, Ban.user_id == user_id)
    )
    await session.execute(
        delete(AddressBan).where(
            AddressBan.livestream_id == livestream_id, AddressBan.user_id == user_id
        )
    )
    return bool(getattr(gone, "rowcount", 0))


async def listing(
    session: AsyncSession, livestream_id: int
) -> list[tuple[str, datetime, list[str]]]:
    """(user id, when, banned addresses) of each ban of the show, oldest first."""
    rows = (
        await session.execute(
            select(Ban).where(Ban.livestream_id == livestream_id).order_by(Ban.created_at)
        )
    ).scalars()
    addresses: dict[str, list[str]] = {}
    for ab in (
        await session.execute(select(AddressBan).where(AddressBan.livestream_id == livestream_id))
    ).scalars():
        addresses.setdefault(ab.user_id, []).append(ab.address)
    return [(b.user_id, b.created_at, sorted(addresses.get(b.user_id, []))) for b in rows]
