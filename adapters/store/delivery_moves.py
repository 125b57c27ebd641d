"""Moves made from outside an attempt: waking a destination's waiting deliveries when it is
back, an operator's or a status' move, notes on the timeline, and requeueing a failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.patterns import matches_any
from adapters.store.records import (
    FAILED,
    QUEUED,
    RETRY_WAIT,
)
from adapters.store.schema import (
    deliveries,
    delivery_events,
    messages,
    outbox,
)

__all__ = ["DeliveryMoves"]


class DeliveryMoves(StoreBase):
    async def wake_route(self, route: str, *, source: str = "dispatcher") -> int:
        """Make every delivery waiting on a retry to ``route`` due now (the destination
        answers again: its waiting work need not sit out the rest of the schedule). Set-based:
        one UPDATE, one insert of events and, with a broker, of outbox rows. Returns how many."""
        now = self._clock()
        async with self._transaction() as connection:
            woken = (
                await connection.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.route == route,
                        deliveries.c.state == RETRY_WAIT,
                        deliveries.c.next_attempt_at > now,
                    )
                    .values(next_attempt_at=now, updated_at=now)
                    .returning(deliveries.c.id, deliveries.c.attempts)
                )
            ).all()
            if not woken:
                return 0
            detail = f"due now: {route} answers again"
            await self._events(
                connection, [(row.id, RETRY_WAIT, RETRY_WAIT, detail) for row in woken], source, now
            )
            if self.outbox:
                await self._queue_next(connection, woken, now)
        return len(woken)

    async def move(
        self,
        delivery_id: str,
        expected: str,
        target: str,
        *,
        source: str,
        detail: str | None = None,
        **values: Any,
    ) -> bool:
        """Move one delivery from ``expected`` to ``target`` (status updates, requeue)."""
        now = self._clock()
        async with self._transaction() as connection:
            moved = await connection.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, deliveries.c.state == expected)
                .values(state=target, updated_at=now, **values)
            )
            if moved.rowcount != 1:
                return False
            await self._event(
                connection,
                delivery_id,
                from_state=expected,
                to_state=target,
                source=source,
                detail=detail,
                at=now,
            )
        return True

    async def note(self, delivery_id: str, *, source: str, detail: str) -> bool:
        """An event that changes no state (a refused recall, an accepted update): the
        timeline shows it; False if there is no such delivery."""
        now = self._clock()
        async with self._transaction() as connection:
            state = await connection.scalar(
                sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id)
            )
            if state is None:
                return False
            await self._event(
                connection,
                delivery_id,
                from_state=state,
                to_state=state,
                source=source,
                detail=detail,
                at=now,
            )
        return True

    async def has_event(self, delivery_id: str, source: str) -> bool:
        rows = await self._rows(
            sa.select(delivery_events.c.id)
            .where(delivery_events.c.delivery_id == delivery_id, delivery_events.c.source == source)
            .limit(1)
        )
        return bool(rows)

    async def failed_since(
        self,
        route: str,
        since: dt.datetime,
        *,
        agencies: Sequence[str] | None = None,
        permanent_too: bool = False,
    ) -> list[str]:
        """The failed deliveries to ``route`` that failed at or after ``since`` (of the
        documents ``agencies`` sent, when given): what an outage left behind. Those refused
        for good only with ``permanent_too``."""
        query = (
            sa.select(deliveries.c.id)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(
                deliveries.c.route == route,
                deliveries.c.state == FAILED,
                deliveries.c.updated_at >= since,
            )
            .order_by(deliveries.c.updated_at)
        )
        if not permanent_too:
            query = query.where(~deliveries.c.permanent)
        if agencies is not None:
            query = query.where(matches_any(messages.c.sender, agencies))
        return [str(row[0]) for row in await self._rows(query)]

    async def requeue(
        self, delivery_id: str, *, source: str = "operator", permanent_too: bool = False
    ) -> bool:
        """Put a failed delivery back in the queue, due now (its attempts count on). One the
        destination refused for good is not sent blindly again: only with ``permanent_too``
        (an operator who corrected the cause, e.g. the recipient was added to the axis)."""
        now = self._clock()
        which = [deliveries.c.id == delivery_id, deliveries.c.state == FAILED]
        if not permanent_too:
            which.append(~deliveries.c.permanent)
        async with self._transaction() as connection:
            moved = await connection.execute(
                deliveries.update()
                .where(*which)
                # a requeued delivery gets the whole retry schedule again
                .values(
                    state=QUEUED,
                    next_attempt_at=now,
                    updated_at=now,
                    backoff_step=0,
                    permanent=False,
                )
            )
            if moved.rowcount != 1:
                return False
            await self._event(
                connection,
                delivery_id,
                from_state=FAILED,
                to_state=QUEUED,
                source=source,
                detail="requeued",
                at=now,
            )
            if self.outbox:
                attempts = await connection.scalar(
                    sa.select(deliveries.c.attempts).where(deliveries.c.id == delivery_id)
                )
                await connection.execute(
                    outbox.insert().values(
                        delivery_id=delivery_id,
                        attempt=int(attempts or 0) + 1,
                        created_at=now,
                        due_at=now,
                    )
                )
        return True
