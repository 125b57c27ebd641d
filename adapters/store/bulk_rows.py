"""Many rows into one table, or many rows of it changed, in one statement each.

On PostgreSQL, one array per column, unnested: ``INSERT ... SELECT FROM unnest(...)`` and
``UPDATE ... FROM unnest(...)`` run once whatever the number of rows, and are prepared once
per table and set of columns. A driver's ``executemany`` sends and executes the statement
once per row, which on the delivery path (the events of a batch of claims or outcomes, the
outbox rows, the webhook rows and their outcomes, a document's deliveries, a pass of the
evidence log) cost more than the rows themselves.
Elsewhere (SQLite, in-process) the driver's ``executemany`` is already one call.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_rows", "update_rows"]

_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]
_quote = _POSTGRESQL.identifier_preparer.quote


async def insert_rows(
    connection: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (each with the same keys: column names) into ``table``."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        await connection.execute(table.insert(), [dict(row) for row in rows])
        return
    columns = tuple(rows[0])
    await connection.execute(_unnest_insert(table, columns), _arrays(columns, rows))


async def update_rows(
    connection: AsyncConnection, table: sa.Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set, in each row of ``table`` whose ``key`` column is a row's ``key``, the row's
    other columns (each row with the same keys: column names)."""
    if not rows:
        return
    columns = tuple(rows[0])
    if connection.dialect.name != "postgresql":
        await connection.execute(
            table.update()
            .where(table.c[key] == sa.bindparam(f"b_{key}"))
            .values({name: sa.bindparam(f"b_{name}") for name in columns if name != key}),
            [{f"b_{name}": value for name, value in row.items()} for row in rows],
        )
        return
    await connection.execute(_unnest_update(table, key, columns), _arrays(columns, rows))


def _arrays(columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {f"c{i}": [row[name] for row in rows] for i, name in enumerate(columns)}


def _unnest(table: sa.Table, columns: tuple[str, ...]) -> str:
    arrays = ", ".join(
        f"CAST(:c{i} AS {table.c[name].type.compile(dialect=_POSTGRESQL)}[])"
        for i, name in enumerate(columns)
    )
    return f"unnest({arrays})"


@functools.cache
def _unnest_insert(table: sa.Table, columns: tuple[str, ...]) -> sa.TextClause:
    names = ", ".join(_quote(name) for name in columns)
    into = f"INSERT INTO {_quote(table.name)} ({names})"
    return sa.text(f"{into} SELECT * FROM {_unnest(table, columns)}")  # noqa: S608 (names from our schema; values bound)


@functools.cache
def _unnest_update(table: sa.Table, key: str, columns: tuple[str, ...]) -> sa.TextClause:
    names = ", ".join(_quote(name) for name in columns)
    changes = ", ".join(f"{_quote(name)} = v.{_quote(name)}" for name in columns if name != key)
    return sa.text(
        f"UPDATE {_quote(table.name)} AS t SET {changes} "  # noqa: S608 (names from our schema; values bound)
        f"FROM {_unnest(table, columns)} AS v({names}) WHERE t.{_quote(key)} = v.{_quote(key)}"
    )
