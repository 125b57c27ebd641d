"""What ``/readyz`` and ``/metrics`` read: that the store answers, and the counts behind the
gauges and counters (messages, deliveries by state with their attempts and latency buckets,
inbound signature failures, the oldest waiting delivery)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import as_utc
from adapters.store.schema import deliveries, messages

__all__ = ["MetricCounts", "MetricReads"]


@dataclass(frozen=True, slots=True)
class MetricCounts:
    #: (direction, message type, count)
    messages: tuple[tuple[str, str, int], ...]
    #: per state: n, attempts, retries, sent, seconds, and le0..leN (latency buckets)
    deliveries: tuple[dict[str, Any], ...]
    signature_failures: int
    oldest_waiting: dt.datetime | None


class MetricReads(StoreBase):
    async def ping(self) -> str:
        """``SELECT 1``; the dialect's name when it answers."""
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        return self.engine.dialect.name

    async def metric_counts(self, latency_buckets: Sequence[float]) -> MetricCounts:
        async with self.engine.connect() as connection:
            by_direction = (
                await connection.execute(
                    sa.select(
                        messages.c.direction, messages.c.message_type, sa.func.count().label("n")
                    ).group_by(messages.c.direction, messages.c.message_type)
                )
            ).all()
            # One pass over the deliveries for the states, attempts, retries and latency.
            by_state = (
                await connection.execute(
                    sa.select(
                        deliveries.c.state,
                        sa.func.count().label("n"),
                        sa.func.sum(deliveries.c.attempts).label("attempts"),
                        sa.func.sum(
                            sa.case((deliveries.c.attempts > 1, deliveries.c.attempts - 1), else_=0)
                        ).label("retries"),
                        sa.func.count(deliveries.c.send_seconds).label("sent"),
                        sa.func.sum(deliveries.c.send_seconds).label("seconds"),
                        *(
                            sa.func.sum(
                                sa.case((deliveries.c.send_seconds <= bound, 1), else_=0)
                            ).label(f"le{index}")
                            for index, bound in enumerate(latency_buckets)
                        ),
                    ).group_by(deliveries.c.state)
                )
            ).all()
            signature_failures = await connection.scalar(
                sa.select(sa.func.count()).where(messages.c.signature_failed.is_(True))
            )
            oldest = await connection.scalar(
                sa.select(sa.func.min(deliveries.c.created_at)).where(
                    deliveries.c.state.in_(("queued", "retry_wait", "sending"))
                )
            )
        return MetricCounts(
            messages=tuple((str(r.direction), str(r.message_type), int(r.n)) for r in by_direction),
            deliveries=tuple(row._asdict() for row in by_state),
            signature_failures=int(signature_failures or 0),
            oldest_waiting=as_utc(oldest),
        )
