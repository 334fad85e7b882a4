"""chat_messages: index to find a client's resend by (show, user, clientMessageId)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_chat_messages_client",
        "chat_messages",
        ["livestream_id", "user_id", "client_message_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_chat_messages_client", table_name="chat_messages")
