"""Shared fixtures: one development PKI per test session (RSA key generation is slow)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.store.engine import create_engine, migrate
from adapters.store.store import Store, utc_now
from devtools.devca import DevPki, make_dev_pki
from tests.backends import Clock, drop_backend, open_backend


@pytest.fixture(scope="session")
def pki() -> DevPki:
    return make_dev_pki(base_url="http://127.0.0.1:9")  # tests that fetch make their own


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def open_store(
    backend: str, tmp_path: Path, clock: Callable[[], dt.datetime]
) -> AsyncIterator[Store]:
    url, schema = await open_backend(backend, tmp_path)
    engine = create_engine(url, schema=schema)
    await migrate(engine)
    opened = Store(engine, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
        await drop_backend(url, schema)


@pytest.fixture
async def store(backend: str, tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    """The store on each backend, with a clock the test moves by hand."""
    async with open_store(backend, tmp_path, clock) as opened:
        yield opened


@pytest.fixture
async def live_store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """The store on each backend, on the real clock (retries, leases in real time)."""
    async with open_store(backend, tmp_path, utc_now) as opened:
        yield opened
