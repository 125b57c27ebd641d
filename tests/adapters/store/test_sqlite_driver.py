"""The embedded store's driver: each statement is one call to aiosqlite's thread, and what
SQLAlchemy reads of a cursor (rows, row count, last row id) is what sqlite3 answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.store.engine import create_engine
from adapters.store.sqlite_driver import OneCallConnection


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
    assert calls == ["<lambda>", "rollback"]
    async with engine.connect() as connection:
        assert (await connection.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 0
