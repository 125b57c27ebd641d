"""Deliveries on the move: claims with leases and fencing attempt numbers, the outcome of
an attempt, operator moves, notes and requeues, each one conditional UPDATE plus one event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.base import StoreBase
from adapters.store.records import (
    FAILED,
    QUEUED,
    RETRY_WAIT,
    SENDING,
    SENT,
    Claim,
    DeliveryJob,
    as_utc,
)
from adapters.store.schema import (
    deliveries,
    messages,
    outbox,
)

__all__ = ["DeliveryStore"]


class DeliveryStore(StoreBase):
    async def claim_due(self, limit: int, *, lease_seconds: float) -> list[DeliveryJob]:
        """Take up to ``limit`` due deliveries (queued or retry-wait and due, or a ``sending``
        whose lease expired: its worker died), most urgent first; each gets attempt + 1."""
        now = self._clock()
        due = sa.or_(
            sa.and_(
                deliveries.c.state.in_((QUEUED, RETRY_WAIT)), deliveries.c.next_attempt_at <= now
            ),
            sa.and_(deliveries.c.state == SENDING, deliveries.c.lease_until < now),
        )
        query = (
            sa.select(
                deliveries.c.id, deliveries.c.state, deliveries.c.attempts, deliveries.c.in_doubt
            )
            .where(due)
            .order_by(deliveries.c.priority.desc(), deliveries.c.next_attempt_at)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        async with self._transaction() as connection:
            candidates = [tuple(row) for row in (await connection.execute(query)).all()]
            return await self._claim(connection, candidates, now, lease_seconds)

    async def claim_one(self, delivery_id: str, *, lease_seconds: float) -> Claim:
        """Take one named delivery (a broker message names it).

        The result says why not when it cannot be taken: done already (the message was a
        duplicate: drop it), not due until ``busy_until`` (a stale message of an earlier
        attempt), or held by another worker's lease until ``busy_until`` (its worker may have
        died: try again then).
        """
        now = self._clock()
        async with self._transaction() as connection:
            found = (
                await connection.execute(
                    sa.select(
                        deliveries.c.state,
                        deliveries.c.attempts,
                        deliveries.c.lease_until,
                        deliveries.c.next_attempt_at,
                        deliveries.c.in_doubt,
                    ).where(deliveries.c.id == delivery_id)
                )
            ).first()
            if found is None:
                return Claim(None, None, "unknown delivery")
            state, attempts, lease_until, next_attempt_at, doubtful = found
            lease_until, next_attempt_at = as_utc(lease_until), as_utc(next_attempt_at)
            if state == SENDING and lease_until is not None and lease_until >= now:
                return Claim(None, lease_until, "another worker holds it")
            if state in (QUEUED, RETRY_WAIT) and next_attempt_at and next_attempt_at > now:
                return Claim(None, next_attempt_at, "not due yet")
            if state not in (QUEUED, RETRY_WAIT, SENDING):
                return Claim(None, None, f"nothing to do: it is {state}")
            jobs = await self._claim(
                connection, [(delivery_id, state, attempts, doubtful)], now, lease_seconds
            )
        return Claim(jobs[0] if jobs else None, None, "" if jobs else "taken by another worker")

    async def _claim(
        self,
        connection: AsyncConnection,
        candidates: Sequence[tuple[Any, ...]],
        now: dt.datetime,
        lease_seconds: float,
    ) -> list[DeliveryJob]:
        lease_until = now + dt.timedelta(seconds=lease_seconds)
        claimed: list[str] = []
        in_doubt: set[str] = set()
        for delivery_id, state, attempts, doubtful in candidates:
            moved = await connection.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.state == state,
                    deliveries.c.attempts == attempts,
                )
                .values(
                    state=SENDING, attempts=attempts + 1, lease_until=lease_until, updated_at=now
                )
            )
            if moved.rowcount != 1:
                continue  # another worker was faster
            claimed.append(delivery_id)
            if state == SENDING or doubtful:
                in_doubt.add(delivery_id)
            detail = f"attempt {attempts + 1}" + (
                " (the previous worker's lease expired)"
                if state == SENDING
                else " (the previous attempt's outcome is unknown)"
                if doubtful
                else ""
            )
            await self._event(
                connection,
                delivery_id,
                from_state=state,
                to_state=SENDING,
                source="dispatcher",
                detail=detail,
                at=now,
            )
        if not claimed:
            return []
        rows = await connection.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.message_id,
                deliveries.c.recipient,
                deliveries.c.route,
                deliveries.c.attempts,
                deliveries.c.backoff_step,
                messages.c.package_ref,
                messages.c.message_type,
                messages.c.sender,
                messages.c.document_id,
                messages.c.created_at,
                messages.c.code,
                messages.c.subject,
                messages.c.needs_signature,
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.id.in_(claimed))
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
                in_doubt=row.id in in_doubt,
                backoff_step=row.backoff_step,
                needs_signature=bool(row.needs_signature),
            )
            for row in rows
        ]

    async def _finish_attempt(
        self,
        job_id: str,
        attempt: int,
        to_state: str,
        detail: str | None,
        *,
        next_due: dt.datetime | None = None,
        **values: Any,
    ) -> bool:
        """Record attempt ``attempt``'s outcome; with ``next_due``, the next attempt goes to the
        outbox in the same transaction (a crash cannot lose a scheduled retry)."""
        now = self._clock()
        async with self._transaction() as connection:
            if to_state == SENT:  # the latency /metrics reports: acceptance -> destination
                created = as_utc(
                    await connection.scalar(
                        sa.select(deliveries.c.created_at).where(deliveries.c.id == job_id)
                    )
                )
                values["sent_at"] = now
                values["send_seconds"] = (now - created).total_seconds() if created else None
            moved = await connection.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == job_id,
                    deliveries.c.state == SENDING,
                    deliveries.c.attempts == attempt,
                )
                .values(state=to_state, lease_until=None, updated_at=now, **values)
            )
            if moved.rowcount != 1:
                return False
            await self._event(
                connection,
                job_id,
                from_state=SENDING,
                to_state=to_state,
                source="dispatcher",
                detail=detail,
                at=now,
            )
            if next_due is not None and self.outbox:
                await connection.execute(
                    outbox.insert().values(
                        delivery_id=job_id, attempt=attempt + 1, created_at=now, due_at=next_due
                    )
                )
        return True

    async def mark_sent(
        self, delivery_id: str, attempt: int, remote_id: str | None, *, note: str = ""
    ) -> bool:
        """The destination took attempt ``attempt``; False if that attempt is no longer ours."""
        detail = f"attempt {attempt}" + (f", remote id {remote_id}" if remote_id else "")
        return await self._finish_attempt(
            delivery_id, attempt, SENT, f"{detail}: {note}" if note else detail,
            remote_id=remote_id, last_error=None, next_attempt_at=None, in_doubt=False,
        )  # fmt: skip

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
        """Attempt ``attempt`` failed and may pass: try again at ``next_attempt_at``.

        ``in_doubt``: the destination may have carried it out (no answer came back), so the
        next attempt asks it first. ``backoff_step``: the retry schedule's step now used.
        """
        doubt = "; its outcome is unknown" if in_doubt else ""
        detail = f"attempt {attempt} failed: {error}{doubt}; next at {next_attempt_at.isoformat()}"
        values: dict[str, Any] = {"in_doubt": in_doubt}
        if backoff_step is not None:
            values["backoff_step"] = backoff_step
        return await self._finish_attempt(
            delivery_id, attempt, RETRY_WAIT, detail, last_error=error,
            next_attempt_at=next_attempt_at, next_due=next_attempt_at, **values,
        )  # fmt: skip

    async def mark_failed(self, delivery_id: str, attempt: int, error: str) -> bool:
        return await self._finish_attempt(
            delivery_id, attempt, FAILED, f"attempt {attempt}: {error}", last_error=error,
            next_attempt_at=None,
        )  # fmt: skip

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
