"""chat_messages: a client's message is stored once, even when its resend races the first commit

The (show, user, clientMessageId) index becomes unique. Rows that an earlier version stored twice
keep their text and id; the later copies lose only their clientMessageId (NULLs never collide).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE chat_messages SET client_message_id = NULL"
            " WHERE client_message_id IS NOT NULL AND id NOT IN ("
            " SELECT min(id) FROM chat_messages WHERE client_message_id IS NOT NULL"
            " GROUP BY livestream_id, user_id, client_message_id)"
        )
    )
    op.drop_index("ix_chat_messages_client", table_name="chat_messages")
    op.create_index(
        "ix_chat_messages_client",
        "chat_messages",
        ["livestream_id", "user_id", "client_message_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_chat_messages_client", table_name="chat_messages")
    op.create_index(
        "ix_chat_messages_client",
        "chat_messages",
        ["livestream_id", "user_id", "client_message_id"],
    )
