"""Each destination's circuit as the dashboard shows it: open or closed, since when, and what
its last probe answered. The dispatcher of each process keeps its own circuit and writes
each change here (the last writer's view is shown)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import as_utc
from adapters.store.schema import circuits

__all__ = ["CircuitStore"]


class CircuitStore(StoreBase):
    async def save_circuit(self, route: str, **values: Any) -> None:
        """Record ``route``'s circuit (state, failures, opened_at, probe_ok, probe_answer,
        probed_at: each only when given)."""
        values["updated_at"] = self._clock()
        await self._upsert(circuits, {"route": route}, values, state="closed", failures=0)

    async def circuits(self) -> dict[str, dict[str, Any]]:
        found = {}
        for row in await self._rows(sa.select(circuits)):
            item = row._asdict()
            for name in ("opened_at", "probed_at", "updated_at"):
                item[name] = as_utc(item[name])
            found[str(row.route)] = item
        return found
