"""The stores the benchmarks measure on: SQLite in a folder, and PostgreSQL in a schema of
its own (made for the run, dropped after it), each migrated as the service migrates."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.store.engine import create_engine, migrate
from adapters.store.store import Store

POSTGRES_URL = os.environ.get(
    "EDXML_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@contextlib.asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh schema's name, dropped with all it holds afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@contextlib.asynccontextmanager
async def bench_store(backend: str, folder: Path) -> AsyncIterator[Store]:
    """A migrated, empty store on ``backend`` (``sqlite`` or ``postgresql``)."""
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            engine = create_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        else:
            schema = await stack.enter_async_context(postgres_schema())
            engine = create_engine(POSTGRES_URL, schema=schema)
        await migrate(engine)
        store = Store(engine)
        try:
            yield store
        finally:
            await store.close()
