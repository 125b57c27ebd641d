"""The store's common ground: its engine and clock, transactions that tell listeners what
changed once committed, the event every state move appends, and the next attempt's outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.records import (
    StateChange,
    utc_now,
)
from adapters.store.schema import (
    delivery_events,
    outbox,
)

__all__ = ["StoreBase"]


class StoreBase:
    """The engine, the clock and the listeners every part of the store shares."""

    #: The clients with a webhook, and when they were read (``WebhookLog.hooked_clients``).
    _hooked: tuple[float, list[dict[str, Any]]] | None = None

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        outbox: bool = True,
    ) -> None:
        """``outbox=False`` in the embedded mode: no broker, the due rows are the queue."""
        self.engine = engine
        self._clock = clock
        self.outbox = outbox
        #: Called with each committed ``StateChange`` (the live feed); must not block.
        self.listeners: list[Callable[[StateChange], None]] = []
        self._postgres = engine.dialect.name == "postgresql"
        self._unique_lock = asyncio.Lock()

    async def close(self) -> None:
        await self.engine.dispose()

    def now(self) -> dt.datetime:
        """The store's clock (UTC): what its rows' times are measured against."""
        return self._clock()

    async def _event(
        self,
        connection: AsyncConnection,
        delivery_id: str,
        *,
        from_state: str | None,
        to_state: str,
        source: str,
        detail: str | None,
        at: dt.datetime,
    ) -> None:
        await connection.execute(
            delivery_events.insert().values(
                delivery_id=delivery_id,
                from_state=from_state,
                to_state=to_state,
                at=at,
                source=source,
                detail=detail,
            )
        )
        changes = connection.info.get("changes")
        if changes is not None:
            changes.append(StateChange(delivery_id, from_state, to_state, source, at))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction whose state changes are told to the listeners once it committed."""
        changes: list[StateChange] = []
        async with self.engine.begin() as connection:
            connection.info["changes"] = changes
            try:
                yield connection
            finally:
                connection.info.pop("changes", None)
        for change in changes:
            for listener in self.listeners:
                listener(change)

    async def _rows(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

    @staticmethod
    async def _queue_next(
        connection: AsyncConnection, rows: Sequence[Any], now: dt.datetime
    ) -> None:
        """Outbox rows, due now, for the next attempt of each (id, attempts) row."""
        await connection.execute(
            outbox.insert(),
            [
                {
                    "delivery_id": row.id,
                    "attempt": row.attempts + 1,
                    "created_at": now,
                    "due_at": now,
                }
                for row in rows
            ],
        )
