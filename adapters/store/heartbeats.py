"""Periodic jobs say they ran: each poller (the axis' ``poller``, an LGSP's ``poller:<name>``)
records each pass (and whether it worked), so an alert can tell when it stalled — in
whichever process holds its lock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import as_utc
from adapters.store.schema import heartbeats

__all__ = ["Beat", "Heartbeats"]


class Heartbeats(StoreBase):
    async def beat(self, name: str, *, error: str | None = None) -> None:
        """One pass of ``name`` now: worked (``error`` None) or failed with ``error``."""
        now = self._clock()
        values: dict[str, Any] = {"at": now, "error": error}
        if error is None:
            values["ok_at"] = now
        await self._upsert(heartbeats, {"name": name}, values)

    async def stalled(self, name: str, now: dt.datetime, seconds: float) -> Beat | None:
        """The last beat of ``name`` when no pass has worked for ``seconds`` (None: it
        works, or it never ran here — no poller is configured)."""
        return (await self.stalled_family(name, now, seconds)).get(name)

    async def stalled_family(
        self, family: str, now: dt.datetime, seconds: float
    ) -> dict[str, Beat]:
        """``stalled`` for ``family`` and every ``family:<name>`` at once, by name."""
        rows = await self._rows(
            sa.select(heartbeats).where(
                sa.or_(heartbeats.c.name == family, heartbeats.c.name.startswith(f"{family}:"))
            )
        )
        found = {}
        for row in rows:
            beat = Beat(as_utc(row.ok_at), row.error)
            if beat.ok_at is None or (now - beat.ok_at).total_seconds() > seconds:
                found[row.name] = beat
        return found


@dataclass(frozen=True, slots=True)
class Beat:
    ok_at: dt.datetime | None  # the last pass that worked
    error: str | None  # what the last failed pass said
