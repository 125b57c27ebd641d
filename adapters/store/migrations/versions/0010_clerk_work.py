"""what the clerk's work on received documents and the searches need

Heartbeats of periodic jobs; names an operator gives agencies here; deliveries refused for
good; the type name, signer, date and copies of each document and its folded search text
(filled for the rows already there); on received documents the incoming register's number
and year, when it was registered, who handles it and by when.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.store.folding import fold

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("document_type", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("signer", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("document_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("copies", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("incoming_number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("incoming_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assigned_to", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("handling_due", sa.Date(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_messages_recipient_incoming_year_incoming_number"),
            ["recipient", "incoming_year", "incoming_number"],
            unique=True,
        )
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("local_name", sa.Text(), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("permanent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeats")),
    )
    fill_search_text(op.get_bind())


def fill_search_text(connection: sa.Connection) -> None:
    """The rows stored before: their searchable fields folded, a batch at a time."""
    table = sa.table(
        "messages",
        sa.column("id", sa.String),
        sa.column("document_id", sa.String),
        sa.column("sender", sa.String),
        sa.column("recipient", sa.String),
        sa.column("code", sa.String),
        sa.column("subject", sa.Text),
        sa.column("search_text", sa.Text),
    )
    last = ""
    while True:
        rows = connection.execute(
            sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            text = " ".join(
                part or ""
                for part in (row.code, row.subject, row.document_id, row.sender, row.recipient)
            )
            connection.execute(
                table.update().where(table.c.id == row.id).values(search_text=fold(text))
            )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table("heartbeats")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("permanent")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("local_name")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_recipient_incoming_year_incoming_number"))
        for column in (
            "handling_due",
            "assigned_to",
            "registered_at",
            "incoming_year",
            "incoming_number",
            "search_text",
            "copies",
            "document_date",
            "signer",
            "document_type",
        ):
            batch_op.drop_column(column)
