"""What the reports (Điều 21.9) and the registers of Nghị định 30 (Phụ lục IV) read: the
documents sent and received in a period for the agencies matching a pattern, and what became
of each delivery. Rows come back as plain dicts; the service lays them out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.patterns import like_pattern
from adapters.store.records import as_utc
from adapters.store.schema import deliveries, delivery_events, messages

__all__ = ["ARRIVAL_STATES", "ReportReads"]

#: The states a delivery reaches once the recipient's system has the document (01 or later)
ARRIVAL_STATES = ("arrived", "accepted", "rejected", "assigned", "processing", "done", "recalled")


def _of(column: Any, agency: str) -> Any:
    return column.like(like_pattern(agency), escape="\\")


def _documents(direction: str, begin: dt.datetime, finish: dt.datetime) -> Any:
    return sa.and_(
        messages.c.direction == direction,
        messages.c.message_type == "edoc",
        messages.c.created_at >= begin,
        messages.c.created_at < finish,
    )


class ReportReads(StoreBase):
    async def sent_documents(
        self, agency: str, begin: dt.datetime, finish: dt.datetime
    ) -> list[dict[str, Any]]:
        """Documents the agencies sent in [begin, finish), oldest first, each with
        ``recipients``: [(code, state)]."""
        async with self.engine.connect() as connection:
            rows = [
                row._asdict()
                for row in await connection.execute(
                    sa.select(messages)
                    .where(_documents("out", begin, finish), _of(messages.c.sender, agency))
                    .order_by(messages.c.created_at, messages.c.id)
                )
            ]
            by_message: dict[str, list[tuple[str, str]]] = {}
            if rows:
                for delivery in await connection.execute(
                    sa.select(
                        deliveries.c.message_id, deliveries.c.recipient, deliveries.c.state
                    ).where(deliveries.c.message_id.in_([row["id"] for row in rows]))
                ):
                    by_message.setdefault(delivery.message_id, []).append(
                        (delivery.recipient, delivery.state)
                    )
        for row in rows:
            row["created_at"] = as_utc(row["created_at"])
            row["recipients"] = sorted(by_message.get(row["id"], []))
        return rows

    async def registered_incoming(
        self, agency: str, begin: dt.datetime, finish: dt.datetime
    ) -> list[dict[str, Any]]:
        """Received documents entered in the incoming register and received in [begin,
        finish), in the register's order (agency, year, number)."""
        return await self._dicts(
            sa.select(messages)
            .where(
                _documents("in", begin, finish),
                _of(messages.c.recipient, agency),
                messages.c.incoming_number.is_not(None),
            )
            .order_by(messages.c.recipient, messages.c.incoming_year, messages.c.incoming_number),
            times=("created_at", "registered_at"),
        )

    async def delivery_outcomes(
        self, agency: str, begin: dt.datetime, finish: dt.datetime
    ) -> list[dict[str, Any]]:
        """Each delivery of the documents the agencies sent in [begin, finish): its message,
        recipient, state, last error, when the document was accepted and when it first
        arrived (None: never)."""
        arrived = (
            sa.select(delivery_events.c.delivery_id, sa.func.min(delivery_events.c.at).label("at"))
            .where(delivery_events.c.to_state.in_(ARRIVAL_STATES))
            .group_by(delivery_events.c.delivery_id)
            .subquery()
        )
        return await self._dicts(
            sa.select(
                deliveries.c.message_id,
                deliveries.c.recipient,
                deliveries.c.state,
                deliveries.c.last_error,
                messages.c.created_at,
                arrived.c.at.label("arrived_at"),
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .outerjoin(arrived, arrived.c.delivery_id == deliveries.c.id)
            .where(_documents("out", begin, finish), _of(messages.c.sender, agency)),
            times=("created_at", "arrived_at"),
        )

    async def received_documents(
        self, agency: str, begin: dt.datetime, finish: dt.datetime
    ) -> list[dict[str, Any]]:
        """Documents the agencies received in [begin, finish): sender, state, reported."""
        return await self._dicts(
            sa.select(
                messages.c.sender,
                messages.c.inbound_state,
                messages.c.reported_status,
                messages.c.incoming_number,
            ).where(_documents("in", begin, finish), _of(messages.c.recipient, agency))
        )
