"""The agencies directory: the axis' list (replaced whole on each synchronisation), local
entries, and the certificate identities an operator records for an agency (kept across
synchronisations). Also the received document a status of ours is about."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.folding import fold
from adapters.store.records import as_utc, utc_now
from adapters.store.schema import agencies, messages
from adapters.store.sqlite_driver import on_the_event_loop

__all__ = ["DirectoryStore", "ListedAgency"]


class ListedAgency:
    """One agency as the axis lists it."""

    def __init__(self, code: str, name: str, parent: str | None = None) -> None:
        self.code, self.name, self.parent = code, name, parent


#: How long the names read from the directory are reused (a sync changes them rarely).
NAMES_SECONDS = 30.0


class DirectoryStore(StoreBase):
    #: (when read, code -> name shown, code -> that name folded), shared by this process
    _names: tuple[float, dict[str, str], dict[str, str]] | None = None

    async def agency_names(self) -> dict[str, str]:
        """Code -> the name shown: the one an operator gave here, else the directory's."""
        return (await self._named())[1]

    async def _named(self) -> tuple[float, dict[str, str], dict[str, str]]:
        cached = self._names
        if cached is not None and time.monotonic() - cached[0] < NAMES_SECONDS:
            return cached
        rows = await self._rows(
            sa.select(
                agencies.c.code,
                sa.func.coalesce(agencies.c.local_name, agencies.c.name).label("shown"),
            )
        )
        pairs = [(str(row._mapping["code"]), row._mapping["shown"]) for row in rows]
        names = {code: str(name) for code, name in pairs if name and name != code}
        self._names = (time.monotonic(), names, {code: fold(n) for code, n in names.items()})
        return self._names

    async def codes_named(self, text: str) -> list[str]:
        """The codes whose name (with or without diacritics) contains ``text``."""
        wanted = fold(text.strip())
        if not wanted:
            return []
        _, _, folded = await self._named()
        return [code for code, name in folded.items() if wanted in name]

    async def name_agency(self, code: str, name: str | None) -> None:
        """Give ``code`` a local name (``None``: back to the directory's), kept across syncs;
        a code the directory lacks becomes a local entry."""
        async with self.engine.begin() as connection:
            moved = await connection.execute(
                agencies.update().where(agencies.c.code == code).values(local_name=name)
            )
            if moved.rowcount == 0 and name:
                await connection.execute(
                    agencies.insert().values(
                        code=code, name=name, source="local", updated_at=utc_now()
                    )
                )
        self._names = None

    @on_the_event_loop
    async def listed_agencies(self, codes: Collection[str]) -> set[str] | None:
        """Which of ``codes`` the agencies directory lists, or ``None`` while it is empty (not
        synchronised yet). Looked up by key: the national directory has thousands of rows,
        and every document accepted asks."""
        wanted = sorted(set(codes))
        rows = await self._rows(sa.select(agencies.c.code).where(agencies.c.code.in_(wanted)))
        if rows:
            return {str(row[0]) for row in rows}
        return set() if await self._rows(sa.select(agencies.c.code).limit(1)) else None

    async def replace_axis_agencies(self, listed: Iterable[ListedAgency]) -> None:
        """The axis' entries become ``listed``; a local entry the axis now lists becomes the
        axis'; recorded identities stay with their agency."""
        now = utc_now()
        fresh = {agency.code: agency for agency in listed}
        async with self.engine.begin() as connection:
            kept = {
                row.code: row
                for row in await connection.execute(
                    sa.select(agencies.c.code, agencies.c.identities, agencies.c.local_name).where(
                        sa.or_(
                            agencies.c.identities.is_not(None), agencies.c.local_name.is_not(None)
                        )
                    )
                )
            }
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
                        "identities": kept[a.code].identities if a.code in kept else None,
                        "local_name": kept[a.code].local_name if a.code in kept else None,
                    }
                    for a in fresh.values()
                ],
            )
        self._names = None

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
