"""The tables of running the gateway over time: the evidence log (its entries, seals and
head), each destination's circuit, and the heartbeats of periodic jobs. Same metadata as
``schema`` (which re-exports them), so one Alembic history covers all."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.store.schema import metadata

__all__ = ["circuits", "evidence", "evidence_head", "evidence_seals", "heartbeats"]

_TIME = sa.DateTime(timezone=True)

#: The evidence log (non-repudiation): every package sent or received, with the peer's
#: answer, each entry carrying the hash of the one before; sealed from time to time.
evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # sent | received
    # what it records, once: "sent:<event id>", "received:<message id>"
    sa.Column("source_key", sa.String(80), nullable=False, unique=True),
    sa.Column("message_id", sa.String(36), nullable=False),
    sa.Column("document_id", sa.String(200), nullable=False),
    sa.Column("peer", sa.String(80), nullable=False),  # the recipient, or the sender
    sa.Column("remote_id", sa.String(120), nullable=True),  # the peer's id for it
    sa.Column("answer", sa.Text, nullable=True),  # what the peer answered / where it came from
    sa.Column("package_sha256", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Index(None, "at"),
)
evidence_seals = sa.Table(
    "evidence_seals",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),  # the sealed entry's hash
    sa.Column("signer", sa.String(40), nullable=True),  # whose key signed it
    sa.Column("signature", sa.Text, nullable=True),  # base64, over "seq|hash|at"
    sa.Column("certificates", sa.Text, nullable=True),  # PEM, the signer's first
    # an RFC 3161 token over the same text (base64), when a TSA is configured
    sa.Column("timestamp_token", sa.Text, nullable=True),
)
#: One row: the chain's head, how far the appender read, how far it was exported
evidence_head = sa.Table(
    "evidence_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Column("event_cursor", sa.BigInteger, nullable=False),
    sa.Column("message_cursor", _TIME, nullable=True),
    sa.Column("exported_seq", sa.BigInteger, nullable=False),
)

#: Each destination's circuit: open after repeated transient failures (no attempts, only
#: probes), and what its last probe answered; the dashboard shows them.
circuits = sa.Table(
    "circuits",
    metadata,
    sa.Column("route", sa.String(40), primary_key=True),
    sa.Column("state", sa.String(8), nullable=False),  # closed | open
    sa.Column("failures", sa.Integer, nullable=False),  # transient failures in a row
    sa.Column("opened_at", _TIME, nullable=True),
    sa.Column("probed_at", _TIME, nullable=True),
    sa.Column("probe_ok", sa.Boolean, nullable=True),
    sa.Column("probe_answer", sa.Text, nullable=True),
    sa.Column("updated_at", _TIME, nullable=False),
)

#: Periodic jobs say they ran (the axis poller): an alert tells when one stalls.
heartbeats = sa.Table(
    "heartbeats",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("at", _TIME, nullable=False),  # the last pass
    sa.Column("ok_at", _TIME, nullable=True),  # the last pass that worked
    sa.Column("error", sa.Text, nullable=True),  # what the last failed pass said
)
