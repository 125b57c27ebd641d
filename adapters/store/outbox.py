"""The transactional outbox: rows a relay publishes to the broker, and the sweeper that
reschedules what a crash left behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import (
    QUEUED,
    RETRY_WAIT,
    OutboxRow,
    as_utc,
)
from adapters.store.schema import (
    deliveries,
    outbox,
)

__all__ = ["OutboxStore"]


class OutboxStore(StoreBase):
    async def unpublished(self, limit: int) -> list[OutboxRow]:
        rows = await self._rows(
            sa.select(
                outbox.c.id,
                outbox.c.delivery_id,
                outbox.c.attempt,
                outbox.c.due_at,
                sa.func.coalesce(deliveries.c.priority, 0).label("priority"),
            )
            .select_from(outbox.outerjoin(deliveries, deliveries.c.id == outbox.c.delivery_id))
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [
            OutboxRow(
                row.id, row.delivery_id, row.attempt, as_utc(row.due_at) or row.due_at, row.priority
            )
            for row in rows
        ]

    async def reschedule_stuck(self, *, grace_seconds: float) -> int:
        """Put in the outbox any delivery due for more than ``grace_seconds`` whose next
        attempt has no outbox row at all: work that was never handed to the broker.

        A published row means the broker confirmed the message, and a confirmed message is
        never lost (durable, persistent; a dead consumer's message is delivered again), so
        a delivery that merely waits its turn in a long queue is not stuck and is not
        published again. Run now and then by the relay; normally it finds nothing.
        """
        if not self.outbox:
            return 0
        now = self._clock()
        late = now - dt.timedelta(seconds=grace_seconds)
        covered = (
            sa.select(outbox.c.id)
            .where(
                outbox.c.delivery_id == deliveries.c.id,
                outbox.c.attempt == deliveries.c.attempts + 1,
            )
            .exists()
        )
        query = sa.select(deliveries.c.id, deliveries.c.attempts).where(
            deliveries.c.state.in_((QUEUED, RETRY_WAIT)),
            deliveries.c.next_attempt_at < late,
            ~covered,
        )
        async with self._transaction() as connection:
            stuck = (await connection.execute(query)).all()
            if stuck:
                await self._queue_next(connection, stuck, now)
        return len(stuck)

    async def mark_published(self, ids: Iterable[int]) -> None:
        listed = list(ids)
        if not listed:
            return
        async with self._transaction() as connection:
            await connection.execute(
                outbox.update().where(outbox.c.id.in_(listed)).values(published_at=self._clock())
            )
