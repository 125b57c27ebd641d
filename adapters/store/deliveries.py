"""Deliveries on the move: claims with leases and fencing attempt numbers, and the outcome
of attempts, each a batch in one transaction of set-based statements.

A claim moves every claimable row at once and inserts their events; recording outcomes is
one UPDATE, one insert of events and, for retries with a broker, one insert of outbox rows.
A batch costs the same few round trips whether it holds 1 row or 200. The moves are
PostgreSQL's single statements (``batch_sql``) or SQLite's portable ones
(``batch_portable``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.base import StoreBase
from adapters.store.batch_portable import (
    STATE,
    WAITING,
    claim_rows_portably,
    due_in_claim_order,
    finish_rows_portably,
)
from adapters.store.batch_sql import claim_rows, finish_rows
from adapters.store.records import (
    RETRY_WAIT,
    SENDING,
    AttemptOutcome,
    Claim,
    DeliveryJob,
    as_utc,
)
from adapters.store.schema import (
    deliveries,
)
from adapters.store.sqlite_driver import on_the_event_loop

__all__ = ["DeliveryStore"]


class DeliveryStore(StoreBase):
    @on_the_event_loop
    async def claim_due(self, limit: int, *, lease_seconds: float) -> list[DeliveryJob]:
        """Take up to ``limit`` due deliveries (queued or retry-wait and due, or a ``sending``
        whose lease expired: its worker died), most urgent first; each gets attempt + 1."""
        now = self._clock()
        query = due_in_claim_order(now, limit, lock=self._postgres)
        async with self._transaction() as connection:
            candidates = [row.id for row in (await connection.execute(query)).all()]
            jobs = await self._claim(connection, candidates, now, lease_seconds)
        urgency = {delivery_id: rank for rank, delivery_id in enumerate(candidates)}
        return sorted(jobs, key=lambda job: urgency[job.delivery_id])  # claimed in id order

    async def claim_one(self, delivery_id: str, *, lease_seconds: float) -> Claim:
        """Take one named delivery (a broker message names it); see ``claim_many``."""
        return (await self.claim_many([delivery_id], lease_seconds=lease_seconds))[delivery_id]

    @on_the_event_loop
    async def claim_many(
        self, delivery_ids: Sequence[str], *, lease_seconds: float
    ) -> dict[str, Claim]:
        """Take the named deliveries (broker messages name them), in one transaction.

        Each claim says why not when it cannot be taken: done already (the message was a
        duplicate: drop it), not due until ``busy_until`` (a stale message of an earlier
        attempt), or held by another worker's lease until ``busy_until`` (its worker may have
        died: try again then).
        """
        now = self._clock()
        wanted = list(dict.fromkeys(delivery_ids))
        async with self._transaction() as connection:
            # Claim first (in the steady state every one is claimable), then ask why not.
            jobs = await self._claim(connection, wanted, now, lease_seconds)
            claims = {job.delivery_id: Claim(job, None) for job in jobs}
            missing = [delivery_id for delivery_id in wanted if delivery_id not in claims]
            if missing:
                found = {
                    row.id: row
                    for row in await connection.execute(STATE.where(deliveries.c.id.in_(missing)))
                }
                for delivery_id in missing:
                    claims[delivery_id] = _refusal(found.get(delivery_id), now) or Claim(
                        None, None, "taken by another worker"
                    )
        return claims

    @on_the_event_loop
    async def _claim(
        self,
        connection: AsyncConnection,
        delivery_ids: Sequence[str],
        now: dt.datetime,
        lease_seconds: float,
    ) -> list[DeliveryJob]:
        """Move each due delivery of ``delivery_ids`` to ``sending`` with attempt + 1 and
        a lease, with its event; the jobs for the workers."""
        if not delivery_ids:
            return []
        lease_until = now + dt.timedelta(seconds=lease_seconds)
        if self._postgres:
            rows = await claim_rows(connection, delivery_ids, now=now, lease_until=lease_until)
        else:
            rows = await claim_rows_portably(connection, delivery_ids, now, lease_until)
        if not rows:
            return []  # another worker was faster
        await self._events(
            connection,
            [
                (row.id, row.before, SENDING, _claim_detail(row.attempts, row.before, row.doubtful))
                for row in rows
            ],
            "dispatcher",
            now,
        )
        return [
            DeliveryJob(
                delivery_id=row.id,
                message_id=row.message_id,
                recipient=row.recipient,
                route=row.route,
                attempt=row.attempts,
                package_ref=row.package_ref,
                message_type=row.message_type,
                sender=row.sender,
                document_id=row.document_id,
                message_created_at=as_utc(row.created_at) or now,
                code=row.code,
                subject=row.subject,
                in_doubt=row.before == SENDING or bool(row.doubtful),
                backoff_step=row.backoff_step,
                needs_signature=bool(row.needs_signature),
            )
            for row in rows
        ]

    @on_the_event_loop
    async def finish_attempts(self, outcomes: Sequence[AttemptOutcome]) -> set[tuple[str, int]]:
        """Record how attempts ended, in one transaction; a retry's next attempt goes to the
        outbox in it (a crash cannot lose a scheduled retry). Returns the (delivery, attempt)
        pairs recorded: an attempt that is no longer ``sending`` (taken over after its lease
        expired) is not among them."""
        recorded: set[tuple[str, int]] = set()
        pending = list(outcomes)
        async with self._transaction() as connection:
            while pending:  # a delivery appears once per statement (its CASE is by id)
                batch: dict[str, AttemptOutcome] = {}
                rest = []
                for outcome in pending:
                    if outcome.delivery_id in batch:
                        rest.append(outcome)
                    else:
                        batch[outcome.delivery_id] = outcome
                recorded |= await self._finish(connection, batch)
                pending = rest
        return recorded

    async def _finish(
        self, connection: AsyncConnection, batch: dict[str, AttemptOutcome]
    ) -> set[tuple[str, int]]:
        now = self._clock()
        if self._postgres:
            recorded = await finish_rows(connection, list(batch.values()), now=now)
        else:
            recorded = await finish_rows_portably(connection, batch, now)
        done = [batch[delivery_id] for delivery_id in recorded]
        await self._events(
            connection,
            [(o.delivery_id, SENDING, o.state, o.detail) for o in done],
            "dispatcher",
            now,
        )
        if self.outbox:  # a retry's next attempt, due when it waits for
            await self._queue_attempts(
                connection,
                (
                    (o.delivery_id, o.attempt + 1, o.next_attempt_at)
                    for o in done
                    if o.state == RETRY_WAIT and o.next_attempt_at is not None
                ),
                now,
            )
        return {(o.delivery_id, o.attempt) for o in done}

    async def _finish_one(self, outcome: AttemptOutcome) -> bool:
        return (outcome.delivery_id, outcome.attempt) in await self.finish_attempts([outcome])

    async def mark_sent(
        self, delivery_id: str, attempt: int, remote_id: str | None, *, note: str = ""
    ) -> bool:
        """The destination took attempt ``attempt``; False if that attempt is no longer ours."""
        return await self._finish_one(
            AttemptOutcome.sent(delivery_id, attempt, remote_id, note=note)
        )

    async def mark_retry(
        self,
        delivery_id: str,
        attempt: int,
        error: str,
        next_attempt_at: dt.datetime,
        *,
        in_doubt: bool = False,
        backoff_step: int | None = None,
    ) -> bool:
        """Attempt ``attempt`` failed and may pass: try again at ``next_attempt_at``."""
        return await self._finish_one(
            AttemptOutcome.retry(
                delivery_id,
                attempt,
                error,
                next_attempt_at,
                in_doubt=in_doubt,
                backoff_step=backoff_step,
            )
        )

    async def mark_failed(self, delivery_id: str, attempt: int, error: str) -> bool:
        return await self._finish_one(AttemptOutcome.failed(delivery_id, attempt, error))

    async def remote_id_taken(self, route: str, remote_id: str, delivery_id: str) -> bool:
        """Whether another delivery to ``route`` already recorded ``remote_id`` as its copy."""
        rows = await self._rows(
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.route == route,
                deliveries.c.remote_id == remote_id,
                deliveries.c.id != delivery_id,
            )
            .limit(1)
        )
        return bool(rows)


def _refusal(row: Any, now: dt.datetime) -> Claim | None:
    """Why the delivery in ``row`` cannot be claimed now, or None if it can."""
    if row is None:
        return Claim(None, None, "unknown delivery")
    lease_until, next_attempt_at = as_utc(row.lease_until), as_utc(row.next_attempt_at)
    if row.state == SENDING and lease_until is not None and lease_until >= now:
        return Claim(None, lease_until, "another worker holds it")
    if row.state in WAITING and next_attempt_at and next_attempt_at > now:
        return Claim(None, next_attempt_at, "not due yet")
    if row.state not in (*WAITING, SENDING):
        return Claim(None, None, f"nothing to do: it is {row.state}")
    return None


def _claim_detail(attempt: int, state: str, doubtful: bool) -> str:
    if state == SENDING:
        return f"attempt {attempt} (the previous worker's lease expired)"
    if doubtful:
        return f"attempt {attempt} (the previous attempt's outcome is unknown)"
    return f"attempt {attempt}"
