"""The store of record: tables of messages, deliveries and their events (docs/architecture.md).

SQLAlchemy Core tables, one definition for SQLite (embedded) and PostgreSQL (production);
Alembic migrations (``migrations/``) create them. Package and attachment bytes live in the
blob store; rows hold their sha256 references. Times are UTC, timezone-aware.

Indexes serve the dashboard's and the workers' queries from day one: deliveries by state and
due time (the embedded queue's claim), by recipient, messages by creation date, events by
delivery, inbound items by axis docId (idempotent receive, spec pitfall 13).
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.store.records import QUEUED, RETRY_WAIT

__all__ = [
    "WAITING_SQL",
    "agencies",
    "alerts",
    "api_clients",
    "audit_log",
    "circuits",
    "deliveries",
    "delivery_events",
    "evidence",
    "evidence_head",
    "evidence_seals",
    "heartbeats",
    "idempotency_keys",
    "inbound_items",
    "inbox_acks",
    "messages",
    "metadata",
    "notices",
    "outbox",
    "sessions",
    "users",
    "webhook_deliveries",
]

metadata: sa.MetaData = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

_TIME = sa.DateTime(timezone=True)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("direction", sa.String(8), nullable=False),  # out | in
    sa.Column("document_id", sa.String(200), nullable=False),  # the edXML DocumentId
    sa.Column("sender", sa.String(40), nullable=False),
    sa.Column("code", sa.String(120), nullable=False, server_default=""),  # number/notation
    sa.Column("subject", sa.Text, nullable=False, server_default=""),
    sa.Column("business_type", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message_type", sa.String(8), nullable=False, server_default="edoc"),
    sa.Column("status_code", sa.String(4), nullable=True),  # for status packages
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("package_ref", sa.String(64), nullable=False),  # sha256 in the blob store
    sa.Column("package_size", sa.BigInteger, nullable=False),
    sa.Column("client_id", sa.String(80), nullable=True),
    sa.Column("created_at", _TIME, nullable=False),
    # inbound: which of our agencies it is for, and what our checks found
    sa.Column("recipient", sa.String(40), nullable=True),
    sa.Column("inbound_state", sa.String(16), nullable=True),  # accepted | rejected | recalled
    sa.Column("checks", sa.Text, nullable=True),  # JSON: signature and rule findings
    # inbound: the package signature failed the policy (counted by /metrics)
    sa.Column("signature_failed", sa.Boolean, nullable=True),
    # inbound: the last status we reported about it (01..06), so none goes backwards
    sa.Column("reported_status", sa.String(4), nullable=True),
    # inbound update/replacement/recall (business type 1-3): the document it is about
    sa.Column("original_id", sa.String(36), nullable=True),
    # out: stored unsigned because no key could sign it yet; signed before it is sent
    sa.Column("needs_signature", sa.Boolean, nullable=False, server_default=sa.false()),
    # the document's type name (Tên loại) and signer, shown in lists and registers
    sa.Column("document_type", sa.Text, nullable=False, server_default=""),
    sa.Column("signer", sa.Text, nullable=False, server_default=""),
    # the document's own date and the copies issued (Số lượng bản), for the registers
    sa.Column("document_date", sa.Date, nullable=True),
    sa.Column("copies", sa.Integer, nullable=True),
    # number/notation, subject, DocumentId and agency codes folded (adapters.store.folding)
    sa.Column("search_text", sa.Text, nullable=False, server_default=""),
    # inbound: the incoming register (Nghị định 30 Điều 22: số đến runs through the year, per
    # agency), who handles it and by when (Điều 23)
    sa.Column("incoming_number", sa.Integer, nullable=True),
    sa.Column("incoming_year", sa.Integer, nullable=True),
    sa.Column("registered_at", _TIME, nullable=True),
    sa.Column("assigned_to", sa.Text, nullable=True),
    sa.Column("handling_due", sa.Date, nullable=True),
    sa.Index(None, "created_at"),
    sa.Index(None, "recipient", "incoming_year", "incoming_number", unique=True),
    sa.Index(None, "direction", "recipient", "created_at"),
    sa.Index(None, "document_id", "sender"),
    sa.Index(None, "direction", "created_at"),
    sa.Index(None, "direction", "message_type"),  # /metrics: messages by direction and type
    sa.Index(None, "signature_failed"),  # /metrics: inbound signature failures
    sa.Index(None, "original_id"),
)

#: A delivery waits for its next attempt, spelled out: SQLite uses a partial index only for
#: a query whose condition is written the same way, never one with bound parameters.
WAITING_SQL = f"state IN ('{QUEUED}', '{RETRY_WAIT}')"

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "message_id",
        sa.String(36),
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("recipient", sa.String(40), nullable=False),
    sa.Column("route", sa.String(40), nullable=False),  # the destination's name in the config
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("status_code", sa.String(4), nullable=True),  # last edXML status received
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _TIME, nullable=True),
    sa.Column("lease_until", _TIME, nullable=True),  # a worker holds it until then
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("remote_id", sa.String(80), nullable=True),  # the axis docId, the hub's id
    # the queue's lane, 0..3: the document's urgency, one lower for the tail of a large fan-out
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    # the last attempt's outcome is unknown (timeout after the request was written, a dead
    # worker): the next attempt asks the destination before sending again
    sa.Column("in_doubt", sa.Boolean, nullable=False, server_default=sa.false()),
    # steps of the retry schedule used (a wait the destination asked for uses none)
    sa.Column("backoff_step", sa.Integer, nullable=False, server_default="0"),
    # failed because the destination refused it for good (an unknown recipient, an invalid
    # package): sending the same again cannot help, a correction can
    sa.Column("permanent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
    # when the destination took it, and how long after acceptance (the latency histogram)
    sa.Column("sent_at", _TIME, nullable=True),
    sa.Column("send_seconds", sa.Float, nullable=True),
    sa.UniqueConstraint("message_id", "recipient"),
    sa.Index(None, "state", "next_attempt_at"),
    # a claim reads each lane's waiting deliveries in due order, none of the others
    sa.Index(
        None,
        "priority",
        "next_attempt_at",
        sqlite_where=sa.text(WAITING_SQL),
        postgresql_where=sa.text(WAITING_SQL),
    ),
    sa.Index(None, "recipient", "state"),
    sa.Index(None, "updated_at"),
    sa.Index(None, "route", "sent_at"),  # the alerts' "last success per destination"
)

delivery_events = sa.Table(
    "delivery_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "delivery_id",
        sa.String(36),
        sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("source", sa.String(40), nullable=False),  # api | dispatcher | status:01 | operator
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index(None, "delivery_id", "id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("delivery_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("due_at", _TIME, nullable=False),  # when the attempt may run (retry delays)
    sa.Column("published_at", _TIME, nullable=True),
    sa.Index(None, "published_at", "id"),
    sa.Index(None, "delivery_id", "attempt"),  # the sweeper: has this attempt a row at all?
)

inbound_items = sa.Table(
    "inbound_items",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),  # axis | soap:<name> | push
    sa.Column("remote_id", sa.String(80), nullable=False),  # the axis docId
    sa.Column("message_type", sa.String(8), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=True),  # the stored message, once read
    sa.Column("outcome", sa.String(16), nullable=False),  # stored | rejected | duplicate
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("received_at", _TIME, nullable=False),
    sa.UniqueConstraint("source", "remote_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("client_id", sa.String(80), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=True),  # set with the message, atomically
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME, nullable=True),  # after it, the key may be used afresh
    sa.Index(None, "expires_at"),
)

agencies = sa.Table(
    "agencies",
    metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("parent", sa.String(40), nullable=True),
    sa.Column("source", sa.String(16), nullable=False),  # config | axis
    sa.Column("updated_at", _TIME, nullable=False),
    # JSON list: the certificate identities that may sign for it (UID=MNS:..., OU=..., CN=...)
    sa.Column("identities", sa.Text, nullable=True),
    # the name an operator gave it here; shown instead of ``name`` and kept across syncs
    sa.Column("local_name", sa.Text, nullable=True),
)

api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # the public half of the key
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),  # sha256 of the secret half
    sa.Column("agencies", sa.Text, nullable=False),  # JSON list of OrganId patterns
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("webhook_secret", sa.String(128), nullable=True),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("revoked_at", _TIME, nullable=True),
)

inbox_acks = sa.Table(
    "inbox_acks",
    metadata,
    sa.Column(
        "message_id",
        sa.String(36),
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("client_id", sa.String(40), primary_key=True),
    sa.Column("acked_at", _TIME, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),  # inbound.document | delivery.state
    sa.Column("payload", sa.Text, nullable=False),  # the JSON body, as signed
    sa.Column("state", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _TIME, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("sent_at", _TIME, nullable=True),
    sa.Index(None, "state", "next_attempt_at"),
    sa.Index(None, "client_id", "created_at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(80), primary_key=True),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("unit", sa.String(80), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # viewer | clerk | admin
    sa.Column("agencies", sa.Text, nullable=False),  # JSON list of OrganId patterns
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", _TIME, nullable=True),  # after repeated failures
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),  # Điều 23.1c
    sa.Column("created_at", _TIME, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the cookie's token
    sa.Column(
        "username",
        sa.String(80),
        sa.ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("username", sa.String(80), nullable=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Index(None, "at"),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("starts_at", _TIME, nullable=False),
    sa.Column("ends_at", _TIME, nullable=False),
    sa.Column("created_by", sa.String(80), nullable=True),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Index(None, "ends_at"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    # what the alert is about: destination:<route> | dead_letters | certificate:<OrganId>
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: what the texts are made of
    sa.Column("value", sa.Integer, nullable=True),  # dead letters: the count last reported
    sa.Column("raised_at", _TIME, nullable=False),
    sa.Column("changed_at", _TIME, nullable=False),
    sa.Column("resolved_at", _TIME, nullable=True),  # NULL while the condition holds
    # raised, grown or resolved but not yet told to the e-mail/webhook sinks
    sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index(None, "resolved_at"),
)

# The evidence log, the circuits and the heartbeats: tables of the same metadata, kept in
# their own module (this one holds the exchange's tables).
from adapters.store.schema_operations import (  # noqa: E402
    circuits,
    evidence,
    evidence_head,
    evidence_seals,
    heartbeats,
)
