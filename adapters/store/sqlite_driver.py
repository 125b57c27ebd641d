"""The embedded store's driver: aiosqlite, with one trip to its thread a statement, or
none for the statements the store knows to be short.

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

A trip to the thread still costs more than a short statement: the thread must be woken,
win the interpreter lock from a busy event loop, and wake the loop again. The store's hot
paths (accepting a document, claiming and finishing deliveries, looking up a client) run
their statements on the event loop instead (``on_the_event_loop``): a few rows by key each,
tens of microseconds, on a connection that waits for no fsync (WAL, ``synchronous=NORMAL``;
the commit, which may run a checkpoint, still goes to the thread). A statement never waits
for another process's lock there: SQLite's own busy handler would sleep on the event loop,
so it is off (``busy_timeout=0``), and a statement that finds the database locked is run
again on the thread, which waits in steps as that handler would (``_PATIENCE``).
"""

from __future__ import annotations

import contextvars
import functools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

import aiosqlite

__all__ = ["BUSY_TIMEOUT_PRAGMA", "on_the_event_loop", "one_call_connector"]

_Outcome = tuple[list[Any], Any, int, int | None]
_P = ParamSpec("_P")
_T = TypeVar("_T")

#: SQLite's busy handler is off: it would sleep wherever the statement runs.
BUSY_TIMEOUT_PRAGMA = "PRAGMA busy_timeout=0"
#: How a statement that found the database locked waits for it on the thread: SQLite's own
#: steps (milliseconds), then 100 ms at a time, for 10 seconds in all.
_PATIENCE = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100)
_PATIENCE_SECONDS = 10.0
_SQLITE_BUSY = 5
#: A write on a snapshot another writer has moved past: waiting cannot help.
_SQLITE_BUSY_SNAPSHOT = 517

_ON_THE_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sqlite_statements_on_the_loop", default=False
)


def on_the_event_loop(
    method: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """A store method whose statements are short (rows by key): on the embedded store they
    run on the event loop, not in the connection's thread. Other databases ignore it."""

    @functools.wraps(method)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        token = _ON_THE_LOOP.set(True)
        try:
            return await method(*args, **kwargs)
        finally:
            _ON_THE_LOOP.reset(token)

    return run


def _locked(error: sqlite3.OperationalError) -> bool:
    """The database is locked by another connection, for a while: worth waiting for."""
    code: int = getattr(error, "sqlite_errorcode", 0)
    return code & 0xFF == _SQLITE_BUSY and code != _SQLITE_BUSY_SNAPSHOT


def _patiently(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` on the connection's thread, again after a wait while another
    process holds the database's lock; a lock held past the patience is the error."""
    waits = iter(_PATIENCE)
    deadline = time.monotonic() + _PATIENCE_SECONDS
    while True:
        try:
            return function(*args)
        except sqlite3.OperationalError as exc:
            if not _locked(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(next(waits, 100) / 1000)


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
        outcome = None
        if _ON_THE_LOOP.get():
            outcome = self._connection.here(_execute, sql, parameters, many)
        if outcome is None:
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


def _commit(connection: sqlite3.Connection) -> None:
    _patiently(connection.commit)


def _rollback(connection: sqlite3.Connection) -> None:
    _patiently(connection.rollback)


class OneCallConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors run each statement in one call."""

    def cursor(self) -> _OneCallCursor:  # type: ignore[override]
        return _OneCallCursor(self)

    async def rollback(self) -> None:
        """Nothing to undo is no call: the pool resets every connection it is given back,
        after each commit too. Only the connection's holder calls it, between statements."""
        if self._connection is not None and not self._connection.in_transaction:
            return
        await self._execute(_rollback, self._conn)  # type: ignore[no-untyped-call]

    async def call(self, function: Callable[..., _Outcome], *args: Any) -> _Outcome:
        """``function(sqlite3_connection, *args)`` on the connection's thread, waiting there
        while another process holds the database's lock."""
        outcome: _Outcome = await self._execute(  # type: ignore[no-untyped-call]
            lambda: _patiently(function, self._conn, *args)
        )
        return outcome

    def here(self, function: Callable[..., _Outcome], *args: Any) -> _Outcome | None:
        """``function(sqlite3_connection, *args)`` on the calling thread, or None when the
        database is locked (nothing was done: the statement may run again). The connection
        is its holder's alone, and the holder waits for each call: the thread is idle."""
        try:
            return function(self._conn, *args)
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                return None
            raise

    async def commit(self) -> None:
        await self._execute(_commit, self._conn)  # type: ignore[no-untyped-call]


def one_call_connector(database: str, **options: Any) -> Callable[[], Awaitable[Any]]:
    """What ``create_async_engine(async_creator=...)`` calls for a new connection to
    ``database`` (``options`` go to ``sqlite3.connect``)."""

    async def connect() -> OneCallConnection:
        connection = OneCallConnection(
            functools.partial(sqlite3.connect, database, **{**options, "check_same_thread": False}),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True  # as SQLAlchemy sets it: never keeps a process up
        await connection
        return connection

    return connect
