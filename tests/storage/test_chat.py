"""Chat storage: what a resuming client is told was deleted, on both backends."""

from __future__ import annotations

from liveshop.storage import chat, livestreams, users
from liveshop.storage.engine import Database


async def test_deleted_up_to_looks_only_at_the_window_before_the_resume_point(
    database_url: str,
) -> None:
    """Deletions among the newest `window` messages ≤ up_to are listed; older and later are not."""
    db = Database(database_url)
    try:
        async with db.session() as s:
            seller = await users.create_user(
                s, email="s@example.com", name="S", role="admin", password_hash="x"
            )
            show = await livestreams.create(
                s, title="t", description="", quality="720p", created_by=seller.id
            )
            ids = [
                (
                    await chat.add(
                        s,
                        livestream_id=show.id,
                        user_id="g_1",
                        user_name="A",
                        user_role="guest",
                        text=f"m{i}",
                        client_message_id=None,
                    )
                ).id
                for i in range(30)
            ]
            # too old (outside the last 10 up to ids[24]), inside twice, after the resume point
            await chat.delete_ids(s, show.id, [ids[2], ids[16], ids[24], ids[27]])
        async with db.session() as s:
            found = await chat.deleted_up_to(s, show.id, up_to=ids[24], window=10)
        assert found == [ids[16], ids[24]]
    finally:
        await db.close()
