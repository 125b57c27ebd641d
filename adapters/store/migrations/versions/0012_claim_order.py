"""an index that gives a claim the waiting deliveries of each lane in due order

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: As the schema spells it (SQLite matches a query's condition to it by its text).
WAITING = "state IN ('queued', 'retry_wait')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_priority_next_attempt_at"),
            ["priority", "next_attempt_at"],
            unique=False,
            sqlite_where=sa.text(WAITING),
            postgresql_where=sa.text(WAITING),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_priority_next_attempt_at"))
