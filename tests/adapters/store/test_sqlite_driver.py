"""The embedded store's driver: each statement is one call to aiosqlite's thread, or none on
the store's short paths, and what SQLAlchemy reads of a cursor (rows, row count, last row
id) is what sqlite3 answered; another writer's lock is waited for off the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store import sqlite_driver
from adapters.store.engine import create_engine
from adapters.store.sqlite_driver import OneCallConnection, on_the_event_loop


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call made to a connection's thread, by the name of what it ran."""
    made: list[str] = []
    original = OneCallConnection._execute

    async def counted(
        self: OneCallConnection, fn: object, *args: object, **kwargs: object
    ) -> object:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(OneCallConnection, "_execute", counted)
    return made


@pytest.fixture
async def engine(tmp_path: Path, calls: list[str]) -> AsyncIterator[AsyncEngine]:
    """A database file holding table ``t``; the calls counted from here on."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        calls.clear()
        yield engine
    finally:
        await engine.dispose()


async def test_a_statement_is_one_call_and_answers_as_sqlite3(
    engine: AsyncEngine, calls: list[str]
) -> None:
    async with engine.begin() as connection:
        inserted = await connection.execute(sa.text("INSERT INTO t (v) VALUES ('a')"))
        assert inserted.lastrowid == 1
        assert len(calls) == 1
        many = await connection.execute(
            sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}, {"v": "d"}]
        )
        assert many.rowcount == 3
        assert len(calls) == 2
        updated = await connection.execute(sa.text("UPDATE t SET v = 'x' WHERE id > 2"))
        assert updated.rowcount == 2
        assert len(calls) == 3
        rows = (await connection.execute(sa.text("SELECT id, v FROM t ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "a"), (2, "b"), (3, "x"), (4, "x")]
        assert len(calls) == 4
        first = await connection.execute(sa.text("SELECT v FROM t ORDER BY id"))
        assert first.scalar() == "a"
        assert len(calls) == 5
    assert len(calls) == 6  # the commit; the pool's reset after it is none
    async with engine.connect() as connection:
        with pytest.raises(sa.exc.IntegrityError):
            await connection.execute(sa.text("INSERT INTO t (id, v) VALUES (1, 'again')"))
        await connection.rollback()
        streamed = await connection.stream(sa.text("SELECT id FROM t ORDER BY id"))
        assert [row[0] async for row in streamed] == [1, 2, 3, 4]


async def test_an_in_memory_database_uses_it_too(calls: list[str]) -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.connect() as connection:
            calls.clear()
            assert (await connection.execute(sa.text("SELECT 1 + 1"))).scalar() == 2
            assert len(calls) == 1
    finally:
        await engine.dispose()


async def test_a_rollback_with_nothing_to_undo_is_no_call(
    engine: AsyncEngine, calls: list[str]
) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.text("INSERT INTO t (v) VALUES ('kept?')"))
        await connection.rollback()  # something to undo: a call, and it is undone
    assert calls == ["<lambda>", "_rollback"]
    async with engine.connect() as connection:
        assert (await connection.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 0


@on_the_event_loop
async def _insert_on_the_loop(engine: AsyncEngine, value: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        await connection.execute(sa.text("SELECT count(*) FROM t"))


async def test_short_statements_run_on_the_event_loop_and_only_the_commit_on_the_thread(
    engine: AsyncEngine, calls: list[str]
) -> None:
    await _insert_on_the_loop(engine, "a")
    assert calls == ["_commit"]
    async with engine.connect() as connection:  # outside the store's short paths: the thread
        assert (await connection.execute(sa.text("SELECT v FROM t"))).scalar() == "a"
    assert calls == ["_commit", "<lambda>"]


def _hold_the_lock(path: Path, seconds: float) -> threading.Thread:
    """Another writer (as another process would be) holding the write lock for a while."""
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t (v) VALUES ('other')")

    def release() -> None:
        time.sleep(seconds)
        holder.commit()
        holder.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


async def test_a_locked_database_is_waited_for_on_the_thread_while_the_loop_runs_on(
    engine: AsyncEngine, tmp_path: Path, calls: list[str]
) -> None:
    holder = _hold_the_lock(tmp_path / "one.db", 0.5)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    started = time.monotonic()
    await _insert_on_the_loop(engine, "mine")
    waited = time.monotonic() - started
    ticking.cancel()
    holder.join()
    assert waited >= 0.4  # it waited for the lock, and did not fail
    assert ticks >= 20  # the event loop was not held while it waited
    assert calls[0] == "<lambda>"  # the statement that found it locked went to the thread
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT v FROM t ORDER BY id"))).scalars()
        assert list(rows) == ["other", "mine"]


async def test_a_lock_held_past_the_patience_is_the_error(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "_PATIENCE_SECONDS", 0.2)
    holder = _hold_the_lock(tmp_path / "one.db", 1.0)
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            await _insert_on_the_loop(engine, "mine")
    finally:
        holder.join()
