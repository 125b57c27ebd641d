"""the evidence log, and the destinations' circuits

Every package sent or received, chained by hashes, its seals, and its head; each
destination's circuit and its last probe.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("seq", _SEQ, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=80), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=200), nullable=False),
        sa.Column("peer", sa.String(length=80), nullable=False),
        sa.Column("remote_id", sa.String(length=120), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence")),
        sa.UniqueConstraint("source_key", name=op.f("uq_evidence_source_key")),
    )
    op.create_index(op.f("ix_evidence_at"), "evidence", ["at"], unique=False)
    op.create_table(
        "evidence_seals",
        sa.Column("seq", _SEQ, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=40), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("certificates", sa.Text(), nullable=True),
        sa.Column("timestamp_token", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_seals")),
    )
    op.create_table(
        "circuits",
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_ok", sa.Boolean(), nullable=True),
        sa.Column("probe_answer", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("route", name=op.f("pk_circuits")),
    )
    head = op.create_table(
        "evidence_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("event_cursor", sa.BigInteger(), nullable=False),
        sa.Column("message_cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_head")),
    )
    op.bulk_insert(
        head, [{"id": 1, "seq": 0, "entry_hash": "0" * 64, "event_cursor": 0, "exported_seq": 0}]
    )


def downgrade() -> None:
    op.drop_table("circuits")
    op.drop_table("evidence_head")
    op.drop_table("evidence_seals")
    op.drop_index(op.f("ix_evidence_at"), table_name="evidence")
    op.drop_table("evidence")
