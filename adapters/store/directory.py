"""The agencies directory: the axis' list (replaced whole on each synchronisation), local
entries, and the certificate identities an operator records for an agency (kept across
synchronisations). Also the received document a status of ours is about."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.records import as_utc, utc_now
from adapters.store.schema import agencies, messages

__all__ = ["DirectoryStore", "ListedAgency"]


class ListedAgency:
    """One agency as the axis lists it."""

    def __init__(self, code: str, name: str, parent: str | None = None) -> None:
        self.code, self.name, self.parent = code, name, parent


class DirectoryStore(StoreBase):
    async def agency_codes(self) -> set[str]:
        rows = await self._rows(sa.select(agencies.c.code))
        return {str(row[0]) for row in rows}

    async def replace_axis_agencies(self, listed: Iterable[ListedAgency]) -> None:
        """The axis' entries become ``listed``; a local entry the axis now lists becomes the
        axis'; recorded identities stay with their agency."""
        now = utc_now()
        fresh = {agency.code: agency for agency in listed}
        async with self.engine.begin() as connection:
            kept = dict(
                (
                    await connection.execute(
                        sa.select(agencies.c.code, agencies.c.identities).where(
                            agencies.c.identities.is_not(None)
                        )
                    )
                ).all()
            )
            await connection.execute(agencies.delete().where(agencies.c.source == "axis"))
            await connection.execute(agencies.delete().where(agencies.c.code.in_(list(fresh))))
            await connection.execute(
                agencies.insert(),
                [
                    {
                        "code": a.code,
                        "name": a.name,
                        "parent": a.parent or None,
                        "source": "axis",
                        "updated_at": now,
                        "identities": kept.get(a.code),
                    }
                    for a in fresh.values()
                ],
            )

    async def directory_state(self) -> tuple[int, dt.datetime | None]:
        """(agencies from the axis, when they were last synchronised — None: never)."""
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(sa.func.count(), sa.func.max(agencies.c.updated_at)).where(
                        agencies.c.source == "axis"
                    )
                )
            ).one()
        count, last = row
        return int(count or 0), as_utc(last)

    async def directory_entries(self) -> list[dict[str, Any]]:
        rows = await self._rows(sa.select(agencies).order_by(agencies.c.code))
        return [row._asdict() for row in rows]

    async def recorded_identities(self, organ_id: str) -> list[str]:
        rows = await self._rows(sa.select(agencies.c.identities).where(agencies.c.code == organ_id))
        recorded = rows[0][0] if rows else None
        return list(json.loads(recorded)) if recorded else []

    async def record_identities(self, organ_id: str, identities: Sequence[str]) -> None:
        """Record ``organ_id``'s identities (a local entry when the axis does not list it)."""
        encoded = json.dumps(list(identities), ensure_ascii=False) if identities else None
        async with self.engine.begin() as connection:
            moved = await connection.execute(
                agencies.update().where(agencies.c.code == organ_id).values(identities=encoded)
            )
            if moved.rowcount == 0:
                await connection.execute(
                    agencies.insert().values(
                        code=organ_id,
                        name=organ_id,
                        source="local",
                        updated_at=utc_now(),
                        identities=encoded,
                    )
                )

    async def received_for_status(
        self, document_id: str, sender: str, recipient: str
    ) -> tuple[str, str | None] | None:
        """(message id, the status last reported) of the new document ``sender`` sent to
        ``recipient`` under ``document_id``, or None."""
        rows = await self._rows(
            sa.select(messages.c.id, messages.c.reported_status)
            .where(
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                messages.c.business_type == 0,
                messages.c.document_id == document_id,
                messages.c.sender == sender,
                messages.c.recipient == recipient,
            )
            .order_by(messages.c.created_at)
            .limit(1)
        )
        if not rows:
            return None
        row = rows[0]._mapping
        return str(row["id"]), row["reported_status"]
