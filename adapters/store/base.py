"""The store's common ground: its engine and clock, transactions that tell listeners what
changed once committed, the event every state move appends, and the next attempt's outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.bulk_rows import insert_rows
from adapters.store.records import (
    StateChange,
    as_utc,
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
        # A read of one statement needs no transaction: on PostgreSQL it goes alone (in
        # autocommit), where the driver would wrap it in BEGIN and ROLLBACK, two more round
        # trips. SQLite's one connection is on this process's side: nothing to save there.
        self._reads = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self._postgres else engine
        )
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
        await self._events(connection, [(delivery_id, from_state, to_state, detail)], source, at)

    @staticmethod
    async def _events(
        connection: AsyncConnection,
        moves: Iterable[tuple[str, str | None, str, str | None]],
        source: str,
        at: dt.datetime,
    ) -> None:
        """One insert of the events of many moves (delivery, from, to, detail); the
        transaction's listeners hear of each once it commits."""
        moves = list(moves)
        if not moves:
            return
        await insert_rows(
            connection,
            delivery_events,
            [
                {
                    "delivery_id": delivery_id,
                    "from_state": from_state,
                    "to_state": to_state,
                    "at": at,
                    "source": source,
                    "detail": detail,
                }
                for delivery_id, from_state, to_state, detail in moves
            ],
        )
        changes = connection.info.get("changes")
        if changes is not None:
            changes.extend(
                StateChange(delivery_id, from_state, to_state, source, at)
                for delivery_id, from_state, to_state, _ in moves
            )

    @staticmethod
    async def _queue_attempts(
        connection: AsyncConnection,
        attempts: Iterable[tuple[str, int, dt.datetime]],
        now: dt.datetime,
    ) -> None:
        """Outbox rows for (delivery, attempt number, when due): what the relay publishes."""
        rows = [
            {"delivery_id": delivery_id, "attempt": attempt, "created_at": now, "due_at": due}
            for delivery_id, attempt, due in attempts
        ]
        await insert_rows(connection, outbox, rows)

    def forget_hooked_clients(self) -> None:
        """This process changed a webhook or a client: read the hooked clients again."""
        self._hooked = None

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

    async def _upsert(
        self, table: sa.Table, key: dict[str, Any], values: dict[str, Any], **first: Any
    ) -> None:
        """Update the row ``key`` names with ``values``, or insert it with them and the
        ``first`` defaults: one row per name (a job's heartbeat, a destination's circuit)."""
        where = [table.c[column] == value for column, value in key.items()]
        async with self.engine.begin() as connection:
            moved = await connection.execute(table.update().where(*where).values(**values))
            if moved.rowcount == 0:
                await connection.execute(table.insert().values(**key, **{**first, **values}))

    async def _rows(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        async with self._reads.connect() as connection:
            return list((await connection.execute(query)).all())

    async def _dicts(self, query: Any, *, times: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The rows of ``query`` as dicts, the ``times`` columns made timezone-aware (SQLite
        gives them back naive)."""
        async with self._reads.connect() as connection:
            found = [row._asdict() for row in (await connection.execute(query)).all()]
        for row in found:
            for name in times:
                row[name] = as_utc(row[name])
        return found

    @classmethod
    async def _queue_next(
        cls, connection: AsyncConnection, rows: Sequence[Any], now: dt.datetime
    ) -> None:
        """Outbox rows, due now, for the next attempt of each (id, attempts) row."""
        await cls._queue_attempts(
            connection, ((row.id, row.attempts + 1, now) for row in rows), now
        )
