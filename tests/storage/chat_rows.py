"""Rows the chat tests start from: a seller's show, and a guest's message in it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from liveshop.storage import chat, livestreams, users


async def seller_show(s: AsyncSession) -> int:
    """A seller's show to chat in (one per database: one show may be live at a time)."""
    seller = await users.create_user(
        s, email="s@example.com", name="S", role="admin", password_hash="x"
    )
    show = await livestreams.create(
        s, title="t", description="", quality="720p", created_by=seller.id
    )
    return show.id


async def say(s: AsyncSession, show_id: int, text: str) -> int:
    """Store guest g_1's message ``text`` (no clientMessageId); its id."""
    message = await chat.add(
        s,
        livestream_id=show_id,
        user_id="g_1",
        user_name="A",
        user_role="guest",
        text=text,
        client_message_id=None,
    )
    return message.id
