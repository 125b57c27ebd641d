"""Messages and their deliveries: accepting a package (one row per recipient, duplicate
DocumentIds refused), reading a message with its timeline, and the counts by state.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.base import StoreBase
from adapters.store.bulk_rows import insert_rows
from adapters.store.folding import search_text
from adapters.store.records import (
    FAILED,
    QUEUED,
    ConcurrentChange,
    DeliveryView,
    DuplicateMessage,
    EventView,
    MessageView,
    NewDelivery,
    NewMessage,
    StatusAnswer,
    as_utc,
    queue_lane,
)
from adapters.store.schema import (
    deliveries,
    delivery_events,
    idempotency_keys,
    inbound_items,
    messages,
)
from adapters.store.sqlite_driver import on_the_event_loop

__all__ = ["MessageStore"]


class MessageStore(StoreBase):
    @on_the_event_loop
    async def accept(
        self,
        message: NewMessage,
        recipients: Sequence[NewDelivery],
        *,
        source: str = "api",
        deliver: bool = True,
        inbound: tuple[str, str] | None = None,
        unique: bool = False,
        answer: StatusAnswer | None = None,
        idempotency: tuple[str, str] | None = None,
    ) -> tuple[str, list[str]]:
        """Store a message and one queued delivery per recipient, in one transaction.

        With ``deliver`` the deliveries are due now and an outbox row is written for each, so
        the broker relay publishes them; without it (inbound messages) no work is queued.
        ``inbound`` = (source, remote id) records where an inbound message came from in the
        same transaction, so a crash cannot store it without remembering it.

        ``unique``: refuse (``DuplicateMessage``) when an earlier outgoing new document with
        the same DocumentId and sender has a delivery that did not fail. ``answer``: record
        the status reported about an inbound document, only if it is still ``expected``
        (``ConcurrentChange`` otherwise). ``idempotency`` = (client id, key): the key gets
        the message id in the same transaction, so a crash cannot leave it half-settled.
        """
        # SQLite has one writer process: the duplicate check is serialised here, where
        # PostgreSQL takes a lock per document in the transaction.
        serial = self._unique_lock if unique and not self._postgres else contextlib.nullcontext()
        async with serial:
            return await self._accept(
                message,
                recipients,
                source=source,
                deliver=deliver,
                inbound=inbound,
                unique=unique,
                answer=answer,
                idempotency=idempotency,
            )

    async def _accept(
        self,
        message: NewMessage,
        recipients: Sequence[NewDelivery],
        *,
        source: str,
        deliver: bool,
        inbound: tuple[str, str] | None,
        unique: bool,
        answer: StatusAnswer | None,
        idempotency: tuple[str, str] | None,
    ) -> tuple[str, list[str]]:
        now = self._clock()
        message_id = str(uuid.uuid4())
        delivery_ids = [str(uuid.uuid4()) for _ in recipients]
        async with self._transaction() as connection:
            if unique:
                await self._refuse_duplicate(connection, message.document_id, message.sender)
            if answer is not None:
                moved = await connection.execute(
                    messages.update()
                    .where(
                        messages.c.id == answer.message_id,
                        messages.c.reported_status.is_not_distinct_from(answer.expected),
                    )
                    .values(reported_status=answer.code)
                )
                if moved.rowcount != 1:
                    raise ConcurrentChange(f"the status of {answer.message_id} changed")
            # the statement is the table's, its values are parameters: no statement is
            # built and coerced column by column for each document
            await connection.execute(
                messages.insert(),
                {
                    "id": message_id,
                    "direction": message.direction,
                    "document_id": message.document_id,
                    "sender": message.sender,
                    "code": message.code,
                    "subject": message.subject,
                    "business_type": message.business_type,
                    "message_type": message.message_type,
                    "status_code": message.status_code,
                    "priority": message.priority,
                    "due_date": message.due_date,
                    "package_ref": message.package_ref,
                    "package_size": message.package_size,
                    "client_id": message.client_id,
                    "needs_signature": message.needs_signature,
                    "document_type": message.document_type,
                    "signer": message.signer,
                    "document_date": message.document_date,
                    "copies": message.copies,
                    "search_text": search_text(message, recipients),
                    "created_at": now,
                },
            )
            if inbound is not None:
                await connection.execute(
                    inbound_items.insert(),
                    {
                        "id": str(uuid.uuid4()),
                        "source": inbound[0],
                        "remote_id": inbound[1],
                        "message_type": message.message_type,
                        "message_id": message_id,
                        "outcome": "stored",
                        "received_at": now,
                    },
                )
            if recipients:
                await insert_rows(
                    connection,
                    deliveries,
                    [
                        {
                            "id": delivery_id,
                            "message_id": message_id,
                            "recipient": recipient.recipient,
                            "route": recipient.route,
                            "state": QUEUED,
                            "attempts": 0,
                            "next_attempt_at": now if deliver else None,
                            "priority": queue_lane(message.priority, index),
                            "created_at": now,
                            "updated_at": now,
                        }
                        for index, (delivery_id, recipient) in enumerate(
                            zip(delivery_ids, recipients, strict=True)
                        )
                    ],
                )
                await self._events(
                    connection, [(d, None, QUEUED, None) for d in delivery_ids], source, now
                )
                if deliver and self.outbox:
                    await self._queue_attempts(connection, ((d, 1, now) for d in delivery_ids), now)
            if idempotency is not None:
                await connection.execute(
                    idempotency_keys.update()
                    .where(
                        idempotency_keys.c.client_id == idempotency[0],
                        idempotency_keys.c.key == idempotency[1],
                    )
                    .values(message_id=message_id)
                )
        return message_id, delivery_ids

    async def _refuse_duplicate(
        self, connection: AsyncConnection, document_id: str, sender: str
    ) -> None:
        if self._postgres:  # two requests for one document wait for each other here
            await connection.execute(
                sa.select(
                    sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"{sender}|{document_id}"))
                )
            )
        live = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.message_id == messages.c.id, deliveries.c.state != FAILED)
            .exists()
        )
        earlier = await connection.scalar(
            sa.select(messages.c.id)
            .where(
                messages.c.direction == "out",
                messages.c.message_type == "edoc",
                messages.c.business_type == 0,
                messages.c.document_id == document_id,
                messages.c.sender == sender,
                live,
            )
            .order_by(messages.c.created_at)
            .limit(1)
        )
        if earlier is not None:
            raise DuplicateMessage(str(earlier))

    async def message(self, message_id: str, *, events: bool = True) -> MessageView | None:
        found = await self._rows(sa.select(messages).where(messages.c.id == message_id))
        if not found:
            return None
        row = found[0]
        delivery_rows = await self._rows(
            sa.select(deliveries)
            .where(deliveries.c.message_id == message_id)
            .order_by(deliveries.c.recipient)
        )
        by_delivery: dict[str, list[EventView]] = {}
        if events and delivery_rows:
            for event in await self._rows(
                sa.select(delivery_events)
                .where(delivery_events.c.delivery_id.in_([d.id for d in delivery_rows]))
                .order_by(delivery_events.c.id)
            ):
                by_delivery.setdefault(event.delivery_id, []).append(
                    EventView(
                        from_state=event.from_state,
                        to_state=event.to_state,
                        at=as_utc(event.at) or event.at,
                        source=event.source,
                        detail=event.detail,
                    )
                )
        return MessageView(
            id=row.id,
            direction=row.direction,
            document_id=row.document_id,
            sender=row.sender,
            code=row.code,
            subject=row.subject,
            message_type=row.message_type,
            status_code=row.status_code,
            package_ref=row.package_ref,
            created_at=as_utc(row.created_at) or row.created_at,
            priority=row.priority,
            due_date=row.due_date,
            document_type=row.document_type,
            signer=row.signer,
            deliveries=tuple(
                DeliveryView(
                    id=d.id,
                    recipient=d.recipient,
                    route=d.route,
                    state=d.state,
                    status_code=d.status_code,
                    attempts=d.attempts,
                    next_attempt_at=as_utc(d.next_attempt_at),
                    last_error=d.last_error,
                    remote_id=d.remote_id,
                    updated_at=as_utc(d.updated_at) or d.updated_at,
                    events=tuple(by_delivery.get(d.id, ())),
                    permanent=bool(d.permanent),
                )
                for d in delivery_rows
            ),
        )

    async def sign_message(self, message_id: str, package_ref: str) -> None:
        """A message stored unsigned now has its signed package (``package_ref``)."""
        async with self._transaction() as connection:
            await connection.execute(
                messages.update()
                .where(messages.c.id == message_id, messages.c.needs_signature.is_(True))
                .values(package_ref=package_ref, needs_signature=False)
            )

    async def deliveries_for_status(self, document_id: str, reporter: str) -> list[tuple[str, str]]:
        """(delivery id, state) of our outgoing deliveries of ``document_id`` to ``reporter``."""
        rows = await self._rows(
            sa.select(deliveries.c.id, deliveries.c.state)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(
                messages.c.direction == "out",
                messages.c.message_type == "edoc",
                messages.c.document_id == document_id,
                deliveries.c.recipient == reporter,
            )
        )
        return [(row.id, row.state) for row in rows]

    async def counts_by_state(self) -> dict[str, int]:
        rows = await self._rows(
            sa.select(deliveries.c.state, sa.func.count().label("n")).group_by(deliveries.c.state)
        )
        return {str(row.state): int(row.n) for row in rows}

    async def state_of(self, delivery_id: str) -> str | None:
        rows = await self._rows(sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id))
        return str(rows[0][0]) if rows else None
