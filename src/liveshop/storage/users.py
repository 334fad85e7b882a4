"""Accounts (admins and customers). Guests have no row: their identity lives in their token."""

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
