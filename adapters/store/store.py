"""The store of record's operations: what the API, the workers and the dashboard do to it.

Every change of a delivery's state is one conditional UPDATE (``WHERE state = <expected>``)
plus one appended event, in one transaction: two workers, a late status and an operator can
race, and exactly one of them wins each move, which the state machine allowed
(``gateway.delivery.states`` is consulted by the callers; the store enforces the expected
current state). Claims and results carry the attempt number as a fencing token: a worker
whose lease expired cannot record the outcome of an attempt another worker has taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.schema import (
    deliveries,
    delivery_events,
    idempotency_keys,
    inbound_items,
    messages,
    outbox,
)

__all__ = [
    "Claim",
    "ConcurrentChange",
    "DeliveryJob",
    "DeliveryView",
    "DuplicateMessage",
    "EventView",
    "MessageView",
    "NewDelivery",
    "NewMessage",
    "OutboxRow",
    "StateChange",
    "StatusAnswer",
    "Store",
    "utc_now",
]

QUEUED, SENDING, RETRY_WAIT, FAILED, SENT = "queued", "sending", "retry_wait", "failed", "sent"

#: Recipients of one document that keep its lane; the rest of a large fan-out goes one lane
#: lower, so a document to two thousand agencies cannot hold back the next one-recipient
#: document of the same urgency (they share the queue fairly).
FAIR_SHARE = 20


def queue_lane(priority: int, index: int) -> int:
    """The queue's lane (0..3, higher first) of the ``index``-th recipient of a document of
    ``priority`` (spec 1.4 OtherInfo/Priority: 0 normal, 1 urgent, 2+ most urgent)."""
    lane = 1 + min(max(priority, 0), 2)
    return lane if index < FAIR_SHARE else lane - 1


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives naive datetimes back; every time in the store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    direction: str  # out | in
    document_id: str
    sender: str
    package_ref: str
    package_size: int
    code: str = ""
    subject: str = ""
    business_type: int = 0
    message_type: str = "edoc"
    status_code: str | None = None
    priority: int = 0
    due_date: dt.date | None = None
    client_id: str | None = None
    #: Stored unsigned (no key could sign it yet): signed before it is sent.
    needs_signature: bool = False


@dataclass(frozen=True, slots=True)
class NewDelivery:
    recipient: str
    route: str


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """An outgoing status about a document we received: ``message_id`` (the inbound
    message) moves from ``expected`` (the status last reported, None if none) to ``code``."""

    message_id: str
    expected: str | None
    code: str


class DuplicateMessage(Exception):
    """An earlier message with the same DocumentId from the same sender is still live."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"the same document is message {message_id}")
        self.message_id = message_id


class ConcurrentChange(Exception):
    """What an operation was conditioned on changed before it committed: read and try again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryJob:
    """One claimed attempt: everything a worker needs, and the attempt as fencing token."""

    delivery_id: str
    message_id: str
    recipient: str
    route: str
    attempt: int
    package_ref: str
    message_type: str
    sender: str
    document_id: str
    message_created_at: dt.datetime
    code: str = ""
    subject: str = ""
    #: The previous attempt's outcome is unknown (its worker died, or the destination took
    #: the request and never answered): the destination may have this copy already.
    in_doubt: bool = False
    #: Steps of the retry schedule used so far (waits a destination asked for use none).
    backoff_step: int = 0
    #: The package was stored unsigned (no key yet): sign it before sending.
    needs_signature: bool = False


@dataclass(frozen=True, slots=True)
class StateChange:
    """One committed event of one delivery: what a live view needs to refresh itself."""

    delivery_id: str
    from_state: str | None
    to_state: str
    source: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    delivery_id: str
    attempt: int
    due_at: dt.datetime
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Claim:
    job: DeliveryJob | None
    busy_until: dt.datetime | None  # held by a live lease until then
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventView:
    from_state: str | None
    to_state: str
    at: dt.datetime
    source: str
    detail: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryView:
    id: str
    recipient: str
    route: str
    state: str
    status_code: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    remote_id: str | None
    updated_at: dt.datetime
    events: tuple[EventView, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageView:
    id: str
    direction: str
    document_id: str
    sender: str
    code: str
    subject: str
    message_type: str
    status_code: str | None
    package_ref: str
    created_at: dt.datetime
    deliveries: tuple[DeliveryView, ...] = field(default=())


class Store:
    """The gateway's store of record over an async engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        outbox: bool = True,
    ) -> None:
        """``outbox=False`` in the embedded mode: no broker, the due rows are the queue."""
        self.engine = engine
        self._clock = clock
        self.outbox = outbox
        #: Called with each committed ``StateChange`` (the live feed); must not block.
        self.listeners: list[Callable[[StateChange], None]] = []
        self._postgres = engine.dialect.name == "postgresql"
        self._unique_lock = asyncio.Lock()

    async def close(self) -> None:
        await self.engine.dispose()

    def now(self) -> dt.datetime:
        """The store's clock (UTC): what its rows' times are measured against."""
        return self._clock()

    # -- writing ---------------------------------------------------------------------------------

    async def _event(
        self,
        connection: AsyncConnection,
        delivery_id: str,
        *,
        from_state: str | None,
        to_state: str,
        source: str,
        detail: str | None,
        at: dt.datetime,
    ) -> None:
        await connection.execute(
            delivery_events.insert().values(
                delivery_id=delivery_id,
                from_state=from_state,
                to_state=to_state,
                at=at,
                source=source,
                detail=detail,
            )
        )
        changes = connection.info.get("changes")
        if changes is not None:
            changes.append(StateChange(delivery_id, from_state, to_state, source, at))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction whose state changes are told to the listeners once it committed."""
        changes: list[StateChange] = []
        async with self.engine.begin() as connection:
            connection.info["changes"] = changes
            try:
                yield connection
            finally:
                connection.info.pop("changes", None)
        for change in changes:
            for listener in self.listeners:
                listener(change)

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
            await connection.execute(
                messages.insert().values(
                    id=message_id,
                    direction=message.direction,
                    document_id=message.document_id,
                    sender=message.sender,
                    code=message.code,
                    subject=message.subject,
                    business_type=message.business_type,
                    message_type=message.message_type,
                    status_code=message.status_code,
                    priority=message.priority,
                    due_date=message.due_date,
                    package_ref=message.package_ref,
                    package_size=message.package_size,
                    client_id=message.client_id,
                    needs_signature=message.needs_signature,
                    created_at=now,
                )
            )
            if inbound is not None:
                await connection.execute(
                    inbound_items.insert().values(
                        id=str(uuid.uuid4()),
                        source=inbound[0],
                        remote_id=inbound[1],
                        message_type=message.message_type,
                        message_id=message_id,
                        outcome="stored",
                        received_at=now,
                    )
                )
            if recipients:
                await connection.execute(
                    deliveries.insert(),
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
                await connection.execute(
                    delivery_events.insert(),
                    [
                        {
                            "delivery_id": delivery_id,
                            "from_state": None,
                            "to_state": QUEUED,
                            "at": now,
                            "source": source,
                            "detail": None,
                        }
                        for delivery_id in delivery_ids
                    ],
                )
                connection.info["changes"].extend(
                    StateChange(delivery_id, None, QUEUED, source, now)
                    for delivery_id in delivery_ids
                )
                if deliver and self.outbox:
                    await connection.execute(
                        outbox.insert(),
                        [
                            {"delivery_id": d, "attempt": 1, "created_at": now, "due_at": now}
                            for d in delivery_ids
                        ],
                    )
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

    async def claim_due(self, limit: int, *, lease_seconds: float) -> list[DeliveryJob]:
        """Take up to ``limit`` due deliveries (queued or retry-wait and due, or a ``sending``
        whose lease expired: its worker died), most urgent first; each gets attempt + 1."""
        now = self._clock()
        due = sa.or_(
            sa.and_(
                deliveries.c.state.in_((QUEUED, RETRY_WAIT)), deliveries.c.next_attempt_at <= now
            ),
            sa.and_(deliveries.c.state == SENDING, deliveries.c.lease_until < now),
        )
        query = (
            sa.select(
                deliveries.c.id, deliveries.c.state, deliveries.c.attempts, deliveries.c.in_doubt
            )
            .where(due)
            .order_by(deliveries.c.priority.desc(), deliveries.c.next_attempt_at)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        async with self._transaction() as connection:
            candidates = [tuple(row) for row in (await connection.execute(query)).all()]
            return await self._claim(connection, candidates, now, lease_seconds)

    async def claim_one(self, delivery_id: str, *, lease_seconds: float) -> Claim:
        """Take one named delivery (a broker message names it).

        The result says why not when it cannot be taken: done already (the message was a
        duplicate: drop it), not due until ``busy_until`` (a stale message of an earlier
        attempt), or held by another worker's lease until ``busy_until`` (its worker may have
        died: try again then).
        """
        now = self._clock()
        async with self._transaction() as connection:
            found = (
                await connection.execute(
                    sa.select(
                        deliveries.c.state,
                        deliveries.c.attempts,
                        deliveries.c.lease_until,
                        deliveries.c.next_attempt_at,
                        deliveries.c.in_doubt,
                    ).where(deliveries.c.id == delivery_id)
                )
            ).first()
            if found is None:
                return Claim(None, None, "unknown delivery")
            state, attempts, lease_until, next_attempt_at, doubtful = found
            lease_until, next_attempt_at = _aware(lease_until), _aware(next_attempt_at)
            if state == SENDING and lease_until is not None and lease_until >= now:
                return Claim(None, lease_until, "another worker holds it")
            if state in (QUEUED, RETRY_WAIT) and next_attempt_at and next_attempt_at > now:
                return Claim(None, next_attempt_at, "not due yet")
            if state not in (QUEUED, RETRY_WAIT, SENDING):
                return Claim(None, None, f"nothing to do: it is {state}")
            jobs = await self._claim(
                connection, [(delivery_id, state, attempts, doubtful)], now, lease_seconds
            )
        return Claim(jobs[0] if jobs else None, None, "" if jobs else "taken by another worker")

    async def _claim(
        self,
        connection: AsyncConnection,
        candidates: Sequence[tuple[Any, ...]],
        now: dt.datetime,
        lease_seconds: float,
    ) -> list[DeliveryJob]:
        lease_until = now + dt.timedelta(seconds=lease_seconds)
        claimed: list[str] = []
        in_doubt: set[str] = set()
        for delivery_id, state, attempts, doubtful in candidates:
            moved = await connection.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.state == state,
                    deliveries.c.attempts == attempts,
                )
                .values(
                    state=SENDING, attempts=attempts + 1, lease_until=lease_until, updated_at=now
                )
            )
            if moved.rowcount != 1:
                continue  # another worker was faster
            claimed.append(delivery_id)
            if state == SENDING or doubtful:
                in_doubt.add(delivery_id)
            detail = f"attempt {attempts + 1}" + (
                " (the previous worker's lease expired)"
                if state == SENDING
                else " (the previous attempt's outcome is unknown)"
                if doubtful
                else ""
            )
            await self._event(
                connection,
                delivery_id,
                from_state=state,
                to_state=SENDING,
                source="dispatcher",
                detail=detail,
                at=now,
            )
        if not claimed:
            return []
        rows = await connection.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.message_id,
                deliveries.c.recipient,
                deliveries.c.route,
                deliveries.c.attempts,
                deliveries.c.backoff_step,
                messages.c.package_ref,
                messages.c.message_type,
                messages.c.sender,
                messages.c.document_id,
                messages.c.created_at,
                messages.c.code,
                messages.c.subject,
                messages.c.needs_signature,
            )
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.id.in_(claimed))
        )
        return [
            DeliveryJob(
                delivery_id=row.id,
                message_id=row.message_id,
                recipient=row.recipient,
                route=row.route,
                attempt=row.attempts,
                package_ref=row.package_ref,
                message_type=row.message_type,
                sender=row.sender,
                document_id=row.document_id,
                message_created_at=_aware(row.created_at) or now,
                code=row.code,
                subject=row.subject,
                in_doubt=row.id in in_doubt,
                backoff_step=row.backoff_step,
                needs_signature=bool(row.needs_signature),
            )
            for row in rows
        ]

    async def _finish_attempt(
        self,
        job_id: str,
        attempt: int,
        to_state: str,
        detail: str | None,
        *,
        next_due: dt.datetime | None = None,
        **values: Any,
    ) -> bool:
        """Record attempt ``attempt``'s outcome; with ``next_due``, the next attempt goes to the
        outbox in the same transaction (a crash cannot lose a scheduled retry)."""
        now = self._clock()
        async with self._transaction() as connection:
            if to_state == SENT:  # the latency /metrics reports: acceptance -> destination
                created = _aware(
                    await connection.scalar(
                        sa.select(deliveries.c.created_at).where(deliveries.c.id == job_id)
                    )
                )
                values["sent_at"] = now
                values["send_seconds"] = (now - created).total_seconds() if created else None
            moved = await connection.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == job_id,
                    deliveries.c.state == SENDING,
                    deliveries.c.attempts == attempt,
                )
                .values(state=to_state, lease_until=None, updated_at=now, **values)
            )
            if moved.rowcount != 1:
                return False
            await self._event(
                connection,
                job_id,
                from_state=SENDING,
                to_state=to_state,
                source="dispatcher",
                detail=detail,
                at=now,
            )
            if next_due is not None and self.outbox:
                await connection.execute(
                    outbox.insert().values(
                        delivery_id=job_id, attempt=attempt + 1, created_at=now, due_at=next_due
                    )
                )
        return True

    async def mark_sent(
        self, delivery_id: str, attempt: int, remote_id: str | None, *, note: str = ""
    ) -> bool:
        """The destination took attempt ``attempt``; False if that attempt is no longer ours."""
        detail = f"attempt {attempt}" + (f", remote id {remote_id}" if remote_id else "")
        return await self._finish_attempt(
            delivery_id, attempt, SENT, f"{detail}: {note}" if note else detail,
            remote_id=remote_id, last_error=None, next_attempt_at=None, in_doubt=False,
        )  # fmt: skip

    async def mark_retry(
        self,
        delivery_id: str,
        attempt: int,
        error: str,
        next_attempt_at: dt.datetime,
        *,
        in_doubt: bool = False,
        backoff_step: int | None = None,
    ) -> bool:
        """Attempt ``attempt`` failed and may pass: try again at ``next_attempt_at``.

        ``in_doubt``: the destination may have carried it out (no answer came back), so the
        next attempt asks it first. ``backoff_step``: the retry schedule's step now used.
        """
        doubt = "; its outcome is unknown" if in_doubt else ""
        detail = f"attempt {attempt} failed: {error}{doubt}; next at {next_attempt_at.isoformat()}"
        values: dict[str, Any] = {"in_doubt": in_doubt}
        if backoff_step is not None:
            values["backoff_step"] = backoff_step
        return await self._finish_attempt(
            delivery_id, attempt, RETRY_WAIT, detail, last_error=error,
            next_attempt_at=next_attempt_at, next_due=next_attempt_at, **values,
        )  # fmt: skip

    async def mark_failed(self, delivery_id: str, attempt: int, error: str) -> bool:
        return await self._finish_attempt(
            delivery_id, attempt, FAILED, f"attempt {attempt}: {error}", last_error=error,
            next_attempt_at=None,
        )  # fmt: skip

    async def wake_route(self, route: str, *, source: str = "dispatcher") -> int:
        """Make every delivery waiting on a retry to ``route`` due now (the destination
        answers again: its waiting work need not sit out the rest of the schedule). Set-based:
        one UPDATE, one insert of events and, with a broker, of outbox rows. Returns how many."""
        now = self._clock()
        async with self._transaction() as connection:
            woken = (
                await connection.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.route == route,
                        deliveries.c.state == RETRY_WAIT,
                        deliveries.c.next_attempt_at > now,
                    )
                    .values(next_attempt_at=now, updated_at=now)
                    .returning(deliveries.c.id, deliveries.c.attempts)
                )
            ).all()
            if not woken:
                return 0
            detail = f"due now: {route} answers again"
            await connection.execute(
                delivery_events.insert(),
                [
                    {
                        "delivery_id": row.id,
                        "from_state": RETRY_WAIT,
                        "to_state": RETRY_WAIT,
                        "at": now,
                        "source": source,
                        "detail": detail,
                    }
                    for row in woken
                ],
            )
            connection.info["changes"].extend(
                StateChange(row.id, RETRY_WAIT, RETRY_WAIT, source, now) for row in woken
            )
            if self.outbox:
                await self._queue_next(connection, woken, now)
        return len(woken)

    async def move(
        self,
        delivery_id: str,
        expected: str,
        target: str,
        *,
        source: str,
        detail: str | None = None,
        **values: Any,
    ) -> bool:
        """Move one delivery from ``expected`` to ``target`` (status updates, requeue)."""
        now = self._clock()
        async with self._transaction() as connection:
            moved = await connection.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, deliveries.c.state == expected)
                .values(state=target, updated_at=now, **values)
            )
            if moved.rowcount != 1:
                return False
            await self._event(
                connection,
                delivery_id,
                from_state=expected,
                to_state=target,
                source=source,
                detail=detail,
                at=now,
            )
        return True

    async def note(self, delivery_id: str, *, source: str, detail: str) -> bool:
        """An event that changes no state (a refused recall, an accepted update): the
        timeline shows it; False if there is no such delivery."""
        now = self._clock()
        async with self._transaction() as connection:
            state = await connection.scalar(
                sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id)
            )
            if state is None:
                return False
            await self._event(
                connection,
                delivery_id,
                from_state=state,
                to_state=state,
                source=source,
                detail=detail,
                at=now,
            )
        return True

    async def has_event(self, delivery_id: str, source: str) -> bool:
        rows = await self._rows(
            sa.select(delivery_events.c.id)
            .where(delivery_events.c.delivery_id == delivery_id, delivery_events.c.source == source)
            .limit(1)
        )
        return bool(rows)

    async def requeue(self, delivery_id: str, *, source: str = "operator") -> bool:
        """Put a failed delivery back in the queue, due now (its attempts count on)."""
        now = self._clock()
        async with self._transaction() as connection:
            moved = await connection.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, deliveries.c.state == FAILED)
                # a requeued delivery gets the whole retry schedule again
                .values(state=QUEUED, next_attempt_at=now, updated_at=now, backoff_step=0)
            )
            if moved.rowcount != 1:
                return False
            await self._event(
                connection,
                delivery_id,
                from_state=FAILED,
                to_state=QUEUED,
                source=source,
                detail="requeued",
                at=now,
            )
            if self.outbox:
                attempts = await connection.scalar(
                    sa.select(deliveries.c.attempts).where(deliveries.c.id == delivery_id)
                )
                await connection.execute(
                    outbox.insert().values(
                        delivery_id=delivery_id,
                        attempt=int(attempts or 0) + 1,
                        created_at=now,
                        due_at=now,
                    )
                )
        return True

    # -- idempotency keys (client retries of the same request) --------------------------------

    async def claim_request(
        self,
        client_id: str,
        key: str,
        request_hash: str,
        *,
        ttl_seconds: float = 24 * 3600,
        running_seconds: float = 120.0,
    ) -> tuple[str, str | None]:
        """Register ``key`` for this request: ("new", None) the first time; ("replay",
        message id) for the same request again, or ("replay", None) while the first one is
        still running; ("conflict", None) when the key was used for a different request.

        A key holds for ``ttl_seconds``, then may be used afresh. A key whose request was
        claimed more than ``running_seconds`` ago and stored nothing died with its process
        (the message id is written in the transaction that stores the message): it is free
        again, so a crash never leaves a key answering "still running" for ever.
        """
        now = self._clock()
        fresh = {
            "client_id": client_id,
            "key": key,
            "request_hash": request_hash,
            "created_at": now,
            "expires_at": now + dt.timedelta(seconds=ttl_seconds),
        }
        where = sa.and_(idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
        for _ in range(3):  # the row may change between our insert and our read
            try:
                async with self._transaction() as connection:
                    await connection.execute(
                        idempotency_keys.delete().where(idempotency_keys.c.expires_at <= now)
                    )
                    await connection.execute(idempotency_keys.insert().values(**fresh))
                return "new", None
            except sa.exc.IntegrityError:
                pass
            rows = await self._rows(sa.select(idempotency_keys).where(where))
            if not rows:
                continue
            row = rows[0]
            if row.request_hash != request_hash:
                return "conflict", None
            if row.message_id is not None:
                return "replay", row.message_id
            started = _aware(row.created_at) or now
            if (now - started).total_seconds() < running_seconds:
                return "replay", None
            async with self._transaction() as connection:  # take over a dead request's key
                moved = await connection.execute(
                    idempotency_keys.update()
                    .where(where, idempotency_keys.c.message_id.is_(None))
                    .where(idempotency_keys.c.created_at == row.created_at)
                    .values(created_at=now, expires_at=fresh["expires_at"])
                )
            if moved.rowcount == 1:
                return "new", None
        return "replay", None

    async def settle_request(self, client_id: str, key: str, message_id: str | None) -> None:
        """Record the outcome of a claimed key; ``None`` forgets it (the request failed)."""
        async with self._transaction() as connection:
            where = sa.and_(
                idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key
            )
            if message_id is None:
                await connection.execute(
                    idempotency_keys.delete().where(where, idempotency_keys.c.message_id.is_(None))
                )
            else:
                await connection.execute(
                    idempotency_keys.update().where(where).values(message_id=message_id)
                )

    # -- outbox (the broker relay) -----------------------------------------------------------

    async def unpublished(self, limit: int) -> list[OutboxRow]:
        rows = await self._rows(
            sa.select(
                outbox.c.id,
                outbox.c.delivery_id,
                outbox.c.attempt,
                outbox.c.due_at,
                sa.func.coalesce(deliveries.c.priority, 0).label("priority"),
            )
            .select_from(outbox.outerjoin(deliveries, deliveries.c.id == outbox.c.delivery_id))
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [
            OutboxRow(
                row.id, row.delivery_id, row.attempt, _aware(row.due_at) or row.due_at, row.priority
            )
            for row in rows
        ]

    async def reschedule_stuck(self, *, grace_seconds: float) -> int:
        """Put in the outbox any delivery due for more than ``grace_seconds`` whose next
        attempt has no outbox row at all: work that was never handed to the broker.

        A published row means the broker confirmed the message, and a confirmed message is
        never lost (durable, persistent; a dead consumer's message is delivered again), so
        a delivery that merely waits its turn in a long queue is not stuck and is not
        published again. Run now and then by the relay; normally it finds nothing.
        """
        if not self.outbox:
            return 0
        now = self._clock()
        late = now - dt.timedelta(seconds=grace_seconds)
        covered = (
            sa.select(outbox.c.id)
            .where(
                outbox.c.delivery_id == deliveries.c.id,
                outbox.c.attempt == deliveries.c.attempts + 1,
            )
            .exists()
        )
        query = sa.select(deliveries.c.id, deliveries.c.attempts).where(
            deliveries.c.state.in_((QUEUED, RETRY_WAIT)),
            deliveries.c.next_attempt_at < late,
            ~covered,
        )
        async with self._transaction() as connection:
            stuck = (await connection.execute(query)).all()
            if stuck:
                await self._queue_next(connection, stuck, now)
        return len(stuck)

    @staticmethod
    async def _queue_next(
        connection: AsyncConnection, rows: Sequence[Any], now: dt.datetime
    ) -> None:
        """Outbox rows, due now, for the next attempt of each (id, attempts) row."""
        await connection.execute(
            outbox.insert(),
            [
                {
                    "delivery_id": row.id,
                    "attempt": row.attempts + 1,
                    "created_at": now,
                    "due_at": now,
                }
                for row in rows
            ],
        )

    async def mark_published(self, ids: Iterable[int]) -> None:
        listed = list(ids)
        if not listed:
            return
        async with self._transaction() as connection:
            await connection.execute(
                outbox.update().where(outbox.c.id.in_(listed)).values(published_at=self._clock())
            )

    # -- inbound (idempotent receive) --------------------------------------------------------

    async def inbound_seen(self, source: str, remote_id: str) -> bool:
        found = await self._rows(
            sa.select(inbound_items.c.id).where(
                inbound_items.c.source == source, inbound_items.c.remote_id == remote_id
            )
        )
        return bool(found)

    async def record_inbound(
        self,
        source: str,
        remote_id: str,
        *,
        message_type: str,
        outcome: str,
        message_id: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Remember an inbound item; False if it was already recorded (a redelivery)."""
        try:
            async with self._transaction() as connection:
                await connection.execute(
                    inbound_items.insert().values(
                        id=str(uuid.uuid4()),
                        source=source,
                        remote_id=remote_id,
                        message_type=message_type,
                        message_id=message_id,
                        outcome=outcome,
                        detail=detail,
                        received_at=self._clock(),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    # -- reading ---------------------------------------------------------------------------------

    async def _rows(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

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
                        at=_aware(event.at) or event.at,
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
            created_at=_aware(row.created_at) or row.created_at,
            deliveries=tuple(
                DeliveryView(
                    id=d.id,
                    recipient=d.recipient,
                    route=d.route,
                    state=d.state,
                    status_code=d.status_code,
                    attempts=d.attempts,
                    next_attempt_at=_aware(d.next_attempt_at),
                    last_error=d.last_error,
                    remote_id=d.remote_id,
                    updated_at=_aware(d.updated_at) or d.updated_at,
                    events=tuple(by_delivery.get(d.id, ())),
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

    async def remote_id_taken(self, route: str, remote_id: str, delivery_id: str) -> bool:
        """Whether another delivery to ``route`` already recorded ``remote_id`` as its copy."""
        rows = await self._rows(
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.route == route,
                deliveries.c.remote_id == remote_id,
                deliveries.c.id != delivery_id,
            )
            .limit(1)
        )
        return bool(rows)

    async def counts_by_state(self) -> dict[str, int]:
        rows = await self._rows(
            sa.select(deliveries.c.state, sa.func.count().label("n")).group_by(deliveries.c.state)
        )
        return {str(row.state): int(row.n) for row in rows}

    async def state_of(self, delivery_id: str) -> str | None:
        rows = await self._rows(sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id))
        return str(rows[0][0]) if rows else None
