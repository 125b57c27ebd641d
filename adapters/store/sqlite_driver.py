"""The embedded store's driver: aiosqlite, with one trip to its thread a statement.

aiosqlite runs every call on the connection's own thread and hands the answer back to the
event loop. SQLAlchemy's adapter makes four such calls a statement: open a cursor, execute,
fetch the rows, close the cursor. Each waits for the event loop to come round again, and
the embedded store has one connection (SQLite has one writer), so under load a
transaction of a dozen statements held that connection for fifty turns of a busy loop:
documents accepted through the API waited far longer for the connection than they used it.

Here a statement is one call: the cursor is opened, executed, read to the end and closed
on the connection's thread, and the rows come back with the description, row count and
last row id SQLAlchemy reads afterwards. Opening, fetching and closing on the event loop
side then touch only what came back. A commit is a call, as before, and so is a rollback
with something to undo (the pool's reset of a connection given back after a commit is
not). Rows are always read whole, also for a "server side" cursor: the store never streams
a result from SQLite.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite

__all__ = ["one_call_connector"]

_Outcome = tuple[list[Any], Any, int, int | None]


class _OneCallCursor:
    """What SQLAlchemy's adapter needs of an aiosqlite cursor, each statement in one call."""

    arraysize = 1

    def __init__(self, connection: OneCallConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> _OneCallCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> _OneCallCursor:
        return await self._run(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _OneCallCursor:
        return await self._run(sql, list(parameters), many=True)

    async def _run(self, sql: str, parameters: Any, *, many: bool) -> _OneCallCursor:
        outcome = await self._connection.call(_execute, sql, parameters, many)
        self._rows, self.description, self.rowcount, self.lastrowid = outcome
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None


def _execute(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the statement run, read to the end, its cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneCallConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors run each statement in one call."""

    def cursor(self) -> _OneCallCursor:  # type: ignore[override]
        return _OneCallCursor(self)

    async def rollback(self) -> None:
        """Nothing to undo is no call: the pool resets every connection it is given back,
        after each commit too. Only the connection's holder calls it, between statements."""
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().rollback()

    async def call(self, function: Callable[..., _Outcome], *args: Any) -> _Outcome:
        """``function(sqlite3_connection, *args)`` on the connection's thread."""
        outcome: _Outcome = await self._execute(  # type: ignore[no-untyped-call]
            lambda: function(self._conn, *args)
        )
        return outcome


def one_call_connector(database: str, **options: Any) -> Callable[[], Awaitable[Any]]:
    """What ``create_async_engine(async_creator=...)`` calls for a new connection to
    ``database`` (``options`` go to ``sqlite3.connect``)."""

    async def connect() -> OneCallConnection:
        connection = OneCallConnection(
            functools.partial(sqlite3.connect, database, **options), iter_chunk_size=64
        )
        connection._thread.daemon = True  # as SQLAlchemy sets it: never keeps a process up
        await connection
        return connection

    return connect
