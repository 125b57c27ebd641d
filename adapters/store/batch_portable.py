"""The delivery batches in portable SQL (SQLite): a few statements per batch, per-row values
by CASE. PostgreSQL has its own single statements (``adapters.store.batch_sql``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import QUEUED, RETRY_WAIT, SENDING, SENT, AttemptOutcome, as_utc
from adapters.store.schema import deliveries, messages

__all__ = ["STATE", "WAITING", "claim_rows_portably", "due", "finish_rows_portably"]

#: The states a delivery waits in for its next attempt.
WAITING = (QUEUED, RETRY_WAIT)


c = deliveries.c
#: What a claim decides on, and what a refusal tells.
STATE = sa.select(c.id, c.state, c.lease_until, c.next_attempt_at, c.in_doubt)


def due(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Queued or waiting and due, or ``sending`` with an expired lease (its worker died)."""
    return sa.or_(
        sa.and_(c.state.in_(WAITING), c.next_attempt_at <= now),
        sa.and_(c.state == SENDING, c.lease_until < now),
    )


def _by_id(column: sa.Column[Any], values: dict[str, Any], otherwise: Any) -> Any:
    """A per-row value in one UPDATE: ``CASE id WHEN ... THEN ... ELSE otherwise END``,
    each value bound with the column's type (PostgreSQL must know a parameter's type)."""
    if not values:
        return otherwise
    typed = {key: sa.literal(value, column.type) for key, value in values.items()}
    return sa.case(typed, value=c.id, else_=otherwise)


async def claim_rows_portably(
    connection: AsyncConnection,
    delivery_ids: Sequence[str],
    now: dt.datetime,
    lease_until: dt.datetime,
) -> list[Any]:
    """SQLite's claim (one writer at a time): the states before, the move, the rows."""
    before = {row.id: row for row in await connection.execute(STATE.where(c.id.in_(delivery_ids)))}
    moved = (
        await connection.execute(
            deliveries.update()
            .where(c.id.in_(list(before)), due(now))
            .values(
                state=SENDING,
                attempts=c.attempts + 1,
                lease_until=lease_until,
                updated_at=now,
            )
            .returning(c.id)
        )
    ).all()
    if not moved:
        return []
    rows = await connection.execute(
        sa.select(
            c.id, c.message_id, c.recipient, c.route, c.attempts, c.backoff_step,
            messages.c.package_ref, messages.c.message_type, messages.c.sender,
            messages.c.document_id, messages.c.created_at, messages.c.code,
            messages.c.subject, messages.c.needs_signature,
        )
        .join(messages, messages.c.id == c.message_id)
        .where(c.id.in_([row.id for row in moved]))
    )  # fmt: skip
    return [
        SimpleNamespace(
            **row._asdict(), before=before[row.id].state, doubtful=before[row.id].in_doubt
        )
        for row in rows
    ]


async def finish_rows_portably(
    connection: AsyncConnection, batch: dict[str, AttemptOutcome], now: dt.datetime
) -> set[str]:
    """SQLite's form: one UPDATE whose per-row values are CASEs by id."""
    sent = [key for key, outcome in batch.items() if outcome.state == SENT]
    accepted: dict[str, dt.datetime | None] = {}
    if sent:  # the latency /metrics reports: acceptance -> destination
        accepted = {
            row.id: as_utc(row.created_at)
            for row in await connection.execute(sa.select(c.id, c.created_at).where(c.id.in_(sent)))
        }
    waits = {k: o for k, o in batch.items() if o.state == RETRY_WAIT}
    steps = {k: o.backoff_step for k, o in waits.items() if o.backoff_step is not None}
    doubts = {k: o.in_doubt for k, o in batch.items() if o.in_doubt is not None}
    moved = (
        await connection.execute(
            deliveries.update()
            .where(
                c.state == SENDING,
                sa.tuple_(c.id, c.attempts).in_([(k, o.attempt) for k, o in batch.items()]),
            )
            .values(
                state=_by_id(c.state, {k: o.state for k, o in batch.items()}, c.state),
                lease_until=None,
                updated_at=now,
                last_error=_by_id(
                    c.last_error, {k: o.error for k, o in batch.items()}, c.last_error
                ),
                next_attempt_at=_by_id(
                    c.next_attempt_at, {k: o.next_attempt_at for k, o in waits.items()}, None
                ),
                in_doubt=_by_id(c.in_doubt, doubts, c.in_doubt),
                backoff_step=_by_id(c.backoff_step, steps, c.backoff_step),
                permanent=_by_id(
                    c.permanent, {k: o.permanent for k, o in batch.items()}, c.permanent
                ),
                remote_id=_by_id(c.remote_id, {k: batch[k].remote_id for k in sent}, c.remote_id),
                sent_at=_by_id(c.sent_at, dict.fromkeys(sent, now), c.sent_at),
                send_seconds=_by_id(
                    c.send_seconds,
                    {k: (now - t).total_seconds() for k, t in accepted.items() if t},
                    c.send_seconds,
                ),
            )
            .returning(c.id)
        )
    ).all()
    return {row.id for row in moved}
