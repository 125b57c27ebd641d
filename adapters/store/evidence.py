"""The evidence log's rows: what is new to log, appending entries to the chain, reading a
range back, and the seals.

Appending takes the head row first (``FOR UPDATE`` on PostgreSQL; SQLite has one writer), so
the processes of a deployment extend one chain, one after the other, without a gap. The
entries' hashes are computed by the caller (``entry_hash``) from the head it is given.
New work is found from cursors with a margin (events committed out of order by concurrent
transactions are still seen) and an anti-join on ``source_key`` (nothing is logged twice).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.bulk_rows import insert_rows
from adapters.store.records import as_utc
from adapters.store.schema import (
    deliveries,
    delivery_events,
    evidence,
    evidence_head,
    evidence_seals,
    inbound_items,
    messages,
)

__all__ = ["GENESIS", "EvidenceStore", "Head", "NewEntry", "entry_hash"]

GENESIS = "0" * 64
#: How far behind a cursor new work is still looked for (transactions commit out of order)
_EVENT_MARGIN = 10_000
_MESSAGE_MARGIN = dt.timedelta(minutes=10)
_FIELDS = (
    "seq", "at", "kind", "source_key", "message_id", "document_id", "peer", "remote_id",
    "answer", "package_sha256",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewEntry:
    kind: str  # sent | received
    source_key: str
    message_id: str
    document_id: str
    peer: str
    remote_id: str | None
    answer: str | None
    package_sha256: str
    cursor: int | dt.datetime  # the event id or the message time it came from


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    entry_hash: str
    exported_seq: int


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 of the previous hash and the entry's fields, as canonical JSON."""
    fields = {name: entry[name] for name in _FIELDS}
    if isinstance(fields["at"], dt.datetime):
        fields["at"] = as_utc(fields["at"]).isoformat()  # type: ignore[union-attr]
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


class EvidenceStore(StoreBase):
    async def _head_row(self, connection: Any, *, lock: bool) -> Any:
        query = sa.select(evidence_head).where(evidence_head.c.id == 1)
        if lock and self._postgres:
            query = query.with_for_update()
        row = (await connection.execute(query)).first()
        if row is None:  # the migration writes it; a store made otherwise gets it here
            with contextlib.suppress(sa.exc.IntegrityError):
                async with connection.begin_nested():
                    await connection.execute(
                        evidence_head.insert().values(
                            id=1, seq=0, entry_hash=GENESIS, event_cursor=0, exported_seq=0
                        )
                    )
            row = (await connection.execute(query)).first()
        return row

    async def evidence_head(self) -> Head:
        async with self.engine.begin() as connection:
            row = await self._head_row(connection, lock=False)
        return Head(int(row.seq), str(row.entry_hash), int(row.exported_seq))

    async def unlogged(self, limit: int = 1000) -> list[NewEntry]:
        """Packages sent or received that the log does not hold yet, oldest first."""
        async with self.engine.begin() as connection:
            head = await self._head_row(connection, lock=False)
            sent = await connection.execute(
                sa.select(
                    delivery_events.c.id,
                    deliveries.c.message_id,
                    deliveries.c.recipient,
                    deliveries.c.route,
                    deliveries.c.remote_id,
                    delivery_events.c.detail,
                    messages.c.document_id,
                    messages.c.package_ref,
                )
                .join(deliveries, deliveries.c.id == delivery_events.c.delivery_id)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .outerjoin(
                    evidence,
                    evidence.c.source_key
                    == sa.literal("sent:") + sa.cast(delivery_events.c.id, sa.String),
                )
                .where(
                    delivery_events.c.to_state == "sent",
                    delivery_events.c.id > int(head.event_cursor) - _EVENT_MARGIN,
                    evidence.c.seq.is_(None),
                )
                .order_by(delivery_events.c.id)
                .limit(limit)
            )
            found = [
                NewEntry("sent", f"sent:{row.id}", row.message_id, row.document_id,
                         f"{row.route}:{row.recipient}", row.remote_id, row.detail,
                         row.package_ref, int(row.id))
                for row in sent
            ]  # fmt: skip
            since = as_utc(head.message_cursor)
            query = (
                sa.select(
                    messages.c.id,
                    messages.c.document_id,
                    messages.c.sender,
                    messages.c.package_ref,
                    messages.c.created_at,
                    inbound_items.c.source,
                    inbound_items.c.remote_id,
                    inbound_items.c.outcome,
                )
                .outerjoin(inbound_items, inbound_items.c.message_id == messages.c.id)
                .outerjoin(
                    evidence, evidence.c.source_key == sa.literal("received:") + messages.c.id
                )
                .where(messages.c.direction == "in", evidence.c.seq.is_(None))
                .order_by(messages.c.created_at, messages.c.id)
                .limit(limit)
            )
            if since is not None:
                query = query.where(messages.c.created_at > since - _MESSAGE_MARGIN)
            received: dict[str, NewEntry] = {}
            for row in await connection.execute(query):
                received.setdefault(
                    row.id,
                    NewEntry("received", f"received:{row.id}", row.id, row.document_id,
                             row.sender, row.remote_id, f"{row.source}: {row.outcome}",
                             row.package_ref, as_utc(row.created_at) or row.created_at),
                )  # fmt: skip
        return found + list(received.values())

    async def append_evidence(
        self, entries: Sequence[NewEntry], hasher: Callable[[str, dict[str, Any]], str]
    ) -> Head:
        """Extend the chain by ``entries`` in one transaction; the head after."""
        now = self._clock()
        async with self.engine.begin() as connection:
            head = await self._head_row(connection, lock=True)
            # another process may have logged some of them since they were read
            logged = set(
                (
                    await connection.execute(
                        sa.select(evidence.c.source_key).where(
                            evidence.c.source_key.in_([e.source_key for e in entries])
                        )
                    )
                ).scalars()
            )
            entries = [entry for entry in entries if entry.source_key not in logged]
            seq, previous = int(head.seq), str(head.entry_hash)
            rows = []
            for entry in entries:
                seq += 1
                row = {
                    "seq": seq, "at": now, "kind": entry.kind, "source_key": entry.source_key,
                    "message_id": entry.message_id, "document_id": entry.document_id,
                    "peer": entry.peer, "remote_id": entry.remote_id, "answer": entry.answer,
                    "package_sha256": entry.package_sha256, "prev_hash": previous,
                }  # fmt: skip
                row["entry_hash"] = previous = hasher(previous, row)
                rows.append(row)
            await insert_rows(connection, evidence, rows)
            events = [e.cursor for e in entries if isinstance(e.cursor, int)]
            times = [e.cursor for e in entries if isinstance(e.cursor, dt.datetime)]
            cursor = as_utc(head.message_cursor)
            await connection.execute(
                evidence_head.update()
                .where(evidence_head.c.id == 1)
                .values(
                    seq=seq,
                    entry_hash=previous,
                    event_cursor=max([int(head.event_cursor), *events]),
                    message_cursor=max(
                        [t for t in (cursor, *times) if t is not None], default=None
                    ),
                )
            )
        return Head(seq, previous, int(head.exported_seq))

    async def evidence_entries(
        self,
        first: int = 1,
        last: int | None = None,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Entries by sequence number (and time), in order."""
        query = sa.select(evidence).where(evidence.c.seq >= first).order_by(evidence.c.seq)
        if last is not None:
            query = query.where(evidence.c.seq <= last)
        if since is not None:
            query = query.where(evidence.c.at >= since)
        if until is not None:
            query = query.where(evidence.c.at < until)
        rows = [row._asdict() for row in await self._rows(query)]
        for row in rows:
            row["at"] = as_utc(row["at"])
        return rows

    async def add_seal(self, seal: dict[str, Any]) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(evidence_seals.insert().values(**seal))

    async def evidence_seals(self, first: int = 1, last: int | None = None) -> list[dict[str, Any]]:
        query = (
            sa.select(evidence_seals)
            .where(evidence_seals.c.seq >= first)
            .order_by(evidence_seals.c.seq)
        )
        if last is not None:
            query = query.where(evidence_seals.c.seq <= last)
        return [row._asdict() for row in await self._rows(query)]

    async def mark_exported(self, seq: int) -> None:
        async with self.engine.begin() as connection:
            await self._head_row(connection, lock=True)
            await connection.execute(
                evidence_head.update()
                .where(evidence_head.c.id == 1, evidence_head.c.exported_seq < seq)
                .values(exported_seq=seq)
            )

    async def unarchived(self, package_ref: str) -> bool:
        """Whether an entry naming this package is not yet in an export (retention keeps it)."""
        head = await self.evidence_head()
        rows = await self._rows(
            sa.select(sa.func.max(evidence.c.seq)).where(evidence.c.package_sha256 == package_ref)
        )
        latest = rows[0][0] if rows else None
        return latest is not None and int(latest) > head.exported_seq
