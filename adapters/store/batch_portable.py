"""The delivery batches in portable SQL (SQLite): a few statements per batch, the same
statements whatever its size. PostgreSQL has its own single statements
(``adapters.store.batch_sql``). Both stores pick due deliveries here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import (
    QUEUE_LANES,
    QUEUED,
    RETRY_WAIT,
    SENDING,
    SENT,
    AttemptOutcome,
    as_utc,
)
from adapters.store.schema import WAITING_SQL, deliveries, messages

__all__ = [
    "STATE",
    "WAITING",
    "claim_rows_portably",
    "due",
    "due_in_claim_order",
    "finish_rows_portably",
]

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


def due_in_claim_order(now: dt.datetime, limit: int, *, lock: bool) -> sa.Select[tuple[str]]:
    """The ids of up to ``limit`` due deliveries, most urgent first (lane, then due time).

    Each lane is read on its own from the ``(priority, next_attempt_at)`` index of waiting
    deliveries, in due order and no further than ``limit``, and expired leases (a few: one
    per send in flight) by state; only those few are sorted. A single query over ``due``
    read and sorted every due row of a backlog for each claim. ``lock``: PostgreSQL's
    ``FOR UPDATE SKIP LOCKED`` in each branch, so workers claiming at once take different
    rows."""

    def branch(condition: sa.ColumnElement[bool]) -> sa.Select[tuple[str, int, dt.datetime]]:
        query = (
            sa.select(c.id, c.priority, c.next_attempt_at)
            .where(condition)
            .order_by(c.next_attempt_at)
            .limit(limit)
        )
        picked = (query.with_for_update(skip_locked=True) if lock else query).subquery()
        return sa.select(picked.c.id, picked.c.priority, picked.c.next_attempt_at)

    lanes = [
        branch(sa.and_(c.priority == lane, sa.text(WAITING_SQL), c.next_attempt_at <= now))
        for lane in QUEUE_LANES
    ]
    expired = branch(sa.and_(c.state == SENDING, c.lease_until < now))
    candidates = sa.union_all(*lanes, expired).subquery()
    return (
        sa.select(candidates.c.id)
        .order_by(candidates.c.priority.desc(), candidates.c.next_attempt_at)
        .limit(limit)
    )


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


#: What finishing an attempt keeps when its outcome does not say: read first, in the same
#: transaction, with the fence (``sending`` under the attempt's number).
_BEFORE_FINISH = sa.select(
    c.id, c.state, c.attempts, c.created_at, c.in_doubt, c.backoff_step, c.remote_id,
    c.sent_at, c.send_seconds,
).where(c.id.in_(sa.bindparam("ids", expanding=True)))  # fmt: skip


def _bound(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


#: One row's outcome: the same statement for every row and batch (compiled once, run with
#: ``executemany``), fenced again so that a row no longer ``sending`` is never moved.
_FINISH_ROW = (
    deliveries.update()
    .where(
        c.id == sa.bindparam("b_id"),
        c.state == SENDING,
        c.attempts == sa.bindparam("b_attempt"),
    )
    .values(
        state=_bound("b_state", c.state),
        lease_until=None,
        updated_at=_bound("b_now", c.updated_at),
        last_error=_bound("b_error", c.last_error),
        next_attempt_at=_bound("b_next", c.next_attempt_at),
        in_doubt=_bound("b_doubt", c.in_doubt),
        backoff_step=_bound("b_step", c.backoff_step),
        permanent=_bound("b_permanent", c.permanent),
        remote_id=_bound("b_remote", c.remote_id),
        sent_at=_bound("b_sent_at", c.sent_at),
        send_seconds=_bound("b_seconds", c.send_seconds),
    )
)


async def finish_rows_portably(
    connection: AsyncConnection, batch: dict[str, AttemptOutcome], now: dt.datetime
) -> set[str]:
    """SQLite's form: the rows read once, then one fixed UPDATE run for each (executemany:
    one call, one compiled statement whatever the batch). What an outcome leaves unsaid
    (``in_doubt`` None, a retry without a step, a row not sent) keeps the row's value."""
    rows = await connection.execute(_BEFORE_FINISH, {"ids": list(batch)})
    params = []
    for row in rows:
        outcome = batch[row.id]
        if row.state != SENDING or row.attempts != outcome.attempt:
            continue  # taken over after its lease expired: not this attempt's to record
        sent, waits = outcome.state == SENT, outcome.state == RETRY_WAIT
        created = as_utc(row.created_at)
        params.append(
            {
                "b_id": row.id,
                "b_attempt": outcome.attempt,
                "b_state": outcome.state,
                "b_now": now,
                "b_error": outcome.error,
                "b_next": outcome.next_attempt_at if waits else None,
                "b_doubt": row.in_doubt if outcome.in_doubt is None else outcome.in_doubt,
                "b_step": (
                    outcome.backoff_step
                    if waits and outcome.backoff_step is not None
                    else row.backoff_step
                ),
                "b_permanent": outcome.permanent,
                "b_remote": outcome.remote_id if sent else row.remote_id,
                "b_sent_at": now if sent else row.sent_at,
                "b_seconds": (
                    (now - created).total_seconds() if sent and created else row.send_seconds
                ),
            }
        )
    if params:
        await connection.execute(_FINISH_ROW, params)
    return {param["b_id"] for param in params}
