"""indexes that keep a /metrics scrape from reading every message

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_direction_message_type"),
            ["direction", "message_type"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_messages_signature_failed"), ["signature_failed"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_signature_failed"))
        batch_op.drop_index(batch_op.f("ix_messages_direction_message_type"))
