"""Accounts (admins and customers). Guests have no row: their identity lives in their token.

Each account has a token version, carried in every token issued to it; bumping it (a role change,
``revoke_tokens``) makes every earlier token invalid, and deleting the account does too."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage.errors import Conflict
from liveshop.storage.models import User


def new_user_id() -> str:
    return "u_" + uuid.uuid4().hex


async def create_user(
    session: AsyncSession, *, email: str, name: str, role: str, password_hash: str
) -> User:
    """Insert a user; raise :class:`Conflict` when the e-mail (case-insensitive) is taken."""
    user = User(
        id=new_user_id(),
        email=email.strip().lower(),
        name=name,
        role=role,
        password_hash=password_hash,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # the session's transaction is now rolled back by its owner
        raise Conflict("e-mail already registered") from exc
    return user


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def count_admins(session: AsyncSession) -> int:
    result = await session.execute(
        select(func.count()).select_from(User).where(User.role == "admin")
    )
    return int(result.scalar_one())


async def revoke_tokens(session: AsyncSession, user: User) -> None:
    """Invalidate every token issued to ``user`` so far."""
    user.token_version = (user.token_version or 0) + 1


async def set_role(session: AsyncSession, user: User, role: str) -> None:
    """Change ``user``'s role; their earlier tokens (which carry the old role) stop working."""
    if user.role != role:
        user.role = role
        await revoke_tokens(session, user)


async def delete(session: AsyncSession, user: User) -> None:
    """Remove the account; its tokens stop working."""
    await session.delete(user)


async def token_versions(session: AsyncSession, ids: list[str]) -> dict[str, int]:
    """The current token version of each of ``ids`` that still exists."""
    if not ids:
        return {}
    result = await session.execute(select(User.id, User.token_version).where(User.id.in_(ids)))
    return {row.id: row.token_version for row in result}


async def staff(session: AsyncSession) -> list[User]:
    """The seller accounts and moderators, oldest first."""
    result = await session.execute(
        select(User).where(User.role.in_(("admin", "moderator"))).order_by(User.created_at)
    )
    return list(result.scalars())


async def set_stream_key(
    session: AsyncSession, user: User, key_hash: str | None, hint: str | None
) -> None:
    """Store (or with None, remove) the SHA-256 of ``user``'s stream key and its hint."""
    user.stream_key_hash, user.stream_key_hint = key_hash, hint


async def by_stream_key(session: AsyncSession, key_hash: str) -> User | None:
    """The account whose stream key hashes to ``key_hash``."""
    result = await session.execute(select(User).where(User.stream_key_hash == key_hash))
    return result.scalar_one_or_none()
