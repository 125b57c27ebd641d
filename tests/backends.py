"""Both store backends for tests: a temporary SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

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
