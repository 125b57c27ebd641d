"""The agencies directory the gateway routes by: synchronised from the axis' getAgenciesList
(or, where the axis is reached through a provincial LGSP, its ``GET /donvilienthongs``) at
start and on a schedule; acceptance refuses a recipient it does not list."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Protocol

from adapters.errors import RemoteServiceError
from adapters.store.directory import ListedAgency
from adapters.store.store import Store

__all__ = ["AgencySource", "directory_state", "run_directory_sync", "sync_agencies"]


class _Listed(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def parent(self) -> str: ...


class AgencySource(Protocol):
    """Who lists the national agencies: the axis client, an LGSP client."""

    async def agencies(self) -> Sequence[_Listed]: ...


log = logging.getLogger(__name__)


async def sync_agencies(store: Store, axis: AgencySource) -> int:
    """Replace the directory's axis entries with ``getAgenciesList`` (or the LGSP's
    national list); returns their number.

    An empty answer changes nothing: the axis never has no agencies, and acceptance must not
    lose its directory to a glitch."""
    listed = await axis.agencies()
    if not listed:
        return 0
    await store.replace_axis_agencies(
        ListedAgency(a.code, a.name, a.parent or None) for a in listed
    )
    return len(listed)


async def directory_state(store: Store) -> tuple[int, dt.datetime | None]:
    """(agencies from the axis, when they were last synchronised — None: never)."""
    return await store.directory_state()


async def run_directory_sync(
    store: Store,
    axis: AgencySource,
    *,
    interval_seconds: float,
    stop: asyncio.Event,
    retry_seconds: float = 60.0,
) -> None:
    """Synchronise the directory now, then every ``interval_seconds`` until ``stop`` (an
    axis that does not answer is tried again after ``retry_seconds``)."""
    while not stop.is_set():
        try:
            count = await sync_agencies(store, axis)
            log.info("agencies directory synchronised: %d agencies", count)
            wait = interval_seconds
        except RemoteServiceError as exc:
            log.warning("agencies directory not synchronised: %s", exc)
            wait = retry_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
