"""Opening the database: one code path, SQLite (aiosqlite) or PostgreSQL (asyncpg).

``sqlite+aiosqlite:///data/gateway.db`` is the embedded default: WAL journal (readers never
wait for the writer), ``synchronous=NORMAL`` (durable at each checkpoint of the WAL, safe
against a process crash), foreign keys on, and each statement one call to aiosqlite's
thread, or none for the store's short ones; concurrent writers wait for one another on
that thread instead of failing (``sqlite_driver``).
``postgresql+asyncpg://...`` is production; ``schema`` puts every table (and
Alembic's version table) in one PostgreSQL schema, which is how tests keep runs apart.
No pre-ping (a BEGIN and ROLLBACK at every checkout, a round trip each): a connection the
server closed is noticed by the driver and discarded at checkout for free, and one that
dies in use fails that transaction, which its caller retries as any transient fault.

``migrate`` applies the Alembic migrations (``upgrade head``) on the same engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.errors import ConfigurationError
from adapters.store.sqlite_driver import BUSY_TIMEOUT_PRAGMA, one_call_connector

__all__ = ["create_engine", "is_sqlite", "migrate"]

MIGRATIONS = Path(__file__).with_name("migrations")


def is_sqlite(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        BUSY_TIMEOUT_PRAGMA,  # the driver waits for another process's lock, on its thread
    ):
        cursor.execute(pragma)
    cursor.close()


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (restart, idle timeout, terminated) is
    replaced at checkout: asyncpg knows it is closed without a round trip."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise sa.exc.DisconnectionError("the server closed this connection")


def create_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """An async engine for ``url``; raises ``ConfigurationError`` for an unsupported one."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"database URL is not valid: {exc}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite":
        if driver != "aiosqlite":
            raise ConfigurationError("use sqlite+aiosqlite:///PATH for the embedded store")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer at a time, and writers that wait in its busy
        # handler sleep in steps of up to 100 ms; waiting for the connection in the event
        # loop costs nothing, and each statement takes well under a millisecond.
        one: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 120}
        in_memory = not parsed.database or parsed.database == ":memory:"  # one already
        (database,), options = SQLiteDialect_aiosqlite().create_connect_args(parsed)
        engine = create_async_engine(
            parsed,
            async_creator=one_call_connector(database, **options),
            **({} if in_memory else one),
        )
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if driver != "asyncpg":
            raise ConfigurationError("use postgresql+asyncpg://... for PostgreSQL")
        connect_args: dict[str, Any] = {}
        if schema:
            connect_args["server_settings"] = {"search_path": schema}
        engine = create_async_engine(parsed, pool_size=pool_size, connect_args=connect_args)
        sa.event.listen(engine.sync_engine, "checkout", _discard_closed)
        return engine
    raise ConfigurationError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent: nothing to do when already there)."""

    def upgrade(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def new_revision(engine: AsyncEngine, message: str) -> None:  # pragma: no cover - dev tool
    """Autogenerate a migration from ``schema.py`` against an up-to-date database."""

    def revise(connection: Connection) -> None:
        command.revision(_alembic_config(connection), message=message, autogenerate=True)

    async with engine.begin() as connection:
        await connection.run_sync(revise)
