"""The store on both backends: a temporary SQLite file and a fresh PostgreSQL schema per test."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.store.engine import create_engine, migrate
from adapters.store.store import Store

POSTGRES_URL = os.environ.get(
    "EDXML_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def open_backend(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    """(URL, schema) of an empty database for ``backend``."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}", None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return POSTGRES_URL, schema


async def drop_backend(url: str, schema: str | None) -> None:
    if schema is None:
        return
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[Store]:
    url, schema = await open_backend(request.param, tmp_path)
    engine = create_engine(url, schema=schema)
    await migrate(engine)
    opened = Store(engine, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
        await drop_backend(url, schema)
