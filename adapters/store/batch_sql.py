"""PostgreSQL's forms of the delivery batches: one statement to claim, one to record outcomes.

The portable forms (``adapters.store.deliveries``) take a few statements per batch and a
CASE per column; on PostgreSQL a claim is one UPDATE that locks, moves and returns what the
worker needs (a CTE keeps the state before the move), and recording outcomes is one UPDATE
joined to the outcomes passed as arrays (``unnest``). Both are plain text, so PostgreSQL and
asyncpg prepare them once per connection whatever the batch size.

The claim locks its rows by id alone and tests whether each is due after the lock (on the
row as it is then). With the due test beside the ids, the planner may read the rows by the
``(state, next_attempt_at)`` index instead, every due row of the backlog for each claim of
a few, and it does so on the generic plan of a prepared statement: a claim would cost as
much as the queue is long. Locking by id locks a row still being sent too (a broker message
delivered twice), so claims lock in id order and outcomes are recorded in id order: a claim
and a batch of outcomes sharing rows wait for each other, never each for the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.records import QUEUED, RETRY_WAIT, SENDING, SENT, AttemptOutcome

__all__ = ["claim_rows", "finish_rows"]

_CLAIM = sa.text(
    f"""
WITH old AS (
    SELECT id, state, in_doubt, next_attempt_at, lease_until FROM deliveries
    WHERE id = ANY(CAST(:ids AS text[]))
    ORDER BY id
    FOR UPDATE
)
UPDATE deliveries AS d
SET state = '{SENDING}', attempts = d.attempts + 1, lease_until = :lease_until, updated_at = :now
FROM old, messages AS m
WHERE d.id = old.id AND m.id = d.message_id
  AND ((old.state IN ('{QUEUED}', '{RETRY_WAIT}') AND old.next_attempt_at <= :now)
       OR (old.state = '{SENDING}' AND old.lease_until < :now))
RETURNING d.id, old.state AS before, old.in_doubt AS doubtful, d.message_id, d.recipient,
    d.route, d.attempts, d.backoff_step, m.package_ref, m.message_type, m.sender,
    m.document_id, m.created_at, m.code, m.subject, m.needs_signature
"""  # noqa: S608 (the states are our constants; every value is a bound parameter)
)

_FINISH = sa.text(
    f"""
UPDATE deliveries AS d SET
    state = v.state,
    lease_until = NULL,
    updated_at = :now,
    last_error = v.error,
    next_attempt_at = v.next_at,
    in_doubt = COALESCE(v.in_doubt, d.in_doubt),
    backoff_step = COALESCE(v.step, d.backoff_step),
    permanent = v.permanent,
    remote_id = CASE WHEN v.state = '{SENT}' THEN v.remote_id ELSE d.remote_id END,
    sent_at = CASE WHEN v.state = '{SENT}' THEN :now ELSE d.sent_at END,
    send_seconds = CASE WHEN v.state = '{SENT}'
        THEN EXTRACT(EPOCH FROM (:now - d.created_at)) ELSE d.send_seconds END
FROM unnest(
    CAST(:ids AS text[]), CAST(:attempts AS int[]), CAST(:states AS text[]),
    CAST(:errors AS text[]), CAST(:next_ats AS timestamptz[]), CAST(:doubts AS boolean[]),
    CAST(:steps AS int[]), CAST(:remote_ids AS text[]), CAST(:permanents AS boolean[])
) AS v(id, attempt, state, error, next_at, in_doubt, step, remote_id, permanent)
WHERE d.id = v.id AND d.attempts = v.attempt AND d.state = '{SENDING}'
RETURNING d.id
"""  # noqa: S608 (the states are our constants; every value is a bound parameter)
)


async def claim_rows(
    connection: AsyncConnection,
    delivery_ids: Sequence[str],
    *,
    now: dt.datetime,
    lease_until: dt.datetime,
) -> list[sa.Row[Any]]:
    """Claim every due delivery of ``delivery_ids``: its row as the worker needs it, with
    ``before`` (the state it left) and ``doubtful`` (its previous outcome unknown)."""
    result = await connection.execute(
        _CLAIM, {"ids": list(delivery_ids), "now": now, "lease_until": lease_until}
    )
    return list(result.all())


async def finish_rows(
    connection: AsyncConnection, outcomes: Sequence[AttemptOutcome], *, now: dt.datetime
) -> set[str]:
    """Record ``outcomes`` (one per delivery); returns the deliveries whose attempt was
    still ``sending`` under that number, that is, recorded."""
    outcomes = sorted(outcomes, key=lambda o: o.delivery_id)  # the claims' lock order
    result = await connection.execute(
        _FINISH,
        {
            "now": now,
            "ids": [o.delivery_id for o in outcomes],
            "attempts": [o.attempt for o in outcomes],
            "states": [o.state for o in outcomes],
            "errors": [o.error for o in outcomes],
            "next_ats": [o.next_attempt_at for o in outcomes],
            "doubts": [o.in_doubt for o in outcomes],
            "steps": [o.backoff_step for o in outcomes],
            "remote_ids": [o.remote_id if o.state == SENT else None for o in outcomes],
            "permanents": [o.permanent for o in outcomes],
        },
    )
    return {row.id for row in result}
