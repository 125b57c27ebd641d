"""what exactly-once delivery and ordered answers need

In-doubt attempts and the retry schedule's own step counter on deliveries, the outbox looked
up by attempt, the status last reported and the original of an update on inbound messages,
packages waiting for a signature, and idempotency keys that expire.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("in_doubt", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("backoff_step", sa.Integer(), server_default="0", nullable=False)
        )
    # The queue's lanes: what was the document's urgency 0..3 becomes lane 1..3.
    op.execute(
        "UPDATE deliveries SET priority = CASE WHEN priority >= 2 THEN 3 ELSE priority + 1 END"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_delivery_id_attempt"), ["delivery_id", "attempt"], unique=False
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_status", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("original_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("needs_signature", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_messages_original_id"), ["original_id"], unique=False)
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identities", sa.Text(), nullable=True))
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("identities")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_original_id"))
        batch_op.drop_column("needs_signature")
        batch_op.drop_column("original_id")
        batch_op.drop_column("reported_status")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_delivery_id_attempt"))
    op.execute(
        "UPDATE deliveries SET priority = CASE WHEN priority > 0 THEN priority - 1 ELSE 0 END"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("backoff_step")
        batch_op.drop_column("in_doubt")
