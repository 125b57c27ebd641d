"""How many rows PostgreSQL reads to run what the store sends: each statement a call sends
is run again under ``EXPLAIN ANALYZE`` on each plan PostgreSQL may choose for it (custom,
for the values; generic, which a prepared statement settles on after a few runs), in a
transaction that is rolled back, and the rows each scan node read are added up.

A hot-path statement that reads the whole backlog for a batch of a few rows costs as much
as the queue is long; these figures catch that without timing anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from adapters.store.schema import metadata
from adapters.store.store import Store

__all__ = ["captured", "rows_read"]

_READS = ("SELECT", "UPDATE", "DELETE", "WITH")


@contextmanager
def captured(store: Store) -> Iterator[list[tuple[str, Sequence[Any]]]]:
    """The reading statements (with their parameters) the store sends while the block runs."""
    seen: list[tuple[str, Sequence[Any]]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in _READS:
            seen.append((statement, tuple(parameters or ())))

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine.sync_engine, "before_cursor_execute", record)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(_literal(item) for item in value) + "]::text[]"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def _table_of(node: dict[str, Any]) -> str:
    """The table a scan node reads: named, or (a bitmap index scan) its index's table."""
    if "Relation Name" in node:
        return str(node["Relation Name"])
    index = str(node["Index Name"]).split("_", 1)[1]  # pk_ / ix_ / uq_ + table + columns
    return max((t for t in metadata.tables if index.startswith(t)), key=len, default=index)


def _scanned(node: dict[str, Any], tables: Counter[str]) -> Counter[str]:
    """Rows read by the scans of a plan node and its children, by table (the rows a filter
    dropped included); scans of a CTE, a subquery or a function's rows read no table."""
    if node["Node Type"].endswith("Scan") and ("Relation Name" in node or "Index Name" in node):
        per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        tables[_table_of(node)] += int(per_loop * node.get("Actual Loops", 1))
    for child in node.get("Plans", ()):
        _scanned(child, tables)
    return tables


async def rows_read(
    store: Store, statements: Sequence[tuple[str, Sequence[Any]]]
) -> list[Counter[str]]:
    """For each statement, by table, the most rows it reads on either plan PostgreSQL may
    run it on: custom (planned for these values: a prepared statement's first runs) or
    generic (what it settles on after), each run and rolled back."""
    read = []
    async with store.engine.connect() as connection:
        for number, (statement, parameters) in enumerate(statements):
            most: Counter[str] = Counter()
            for mode in ("force_custom_plan", "force_generic_plan"):
                name = f"rows_read_{number}_{mode}"
                await connection.exec_driver_sql(f"SET plan_cache_mode = {mode}")
                await connection.exec_driver_sql(f"PREPARE {name} AS {statement}")
                arguments = ", ".join(_literal(value) for value in parameters)
                call = f"EXECUTE {name}({arguments})" if parameters else f"EXECUTE {name}"
                result = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {call}")
                plan = result.scalar_one()
                plan = json.loads(plan) if isinstance(plan, str) else plan
                most |= _scanned(plan[0]["Plan"], Counter())
                await connection.rollback()
                await connection.exec_driver_sql(f"DEALLOCATE {name}")
            await connection.exec_driver_sql("RESET plan_cache_mode")
            read.append(most)
    return read
