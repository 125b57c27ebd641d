"""What the store takes and gives: new messages and deliveries, claims, jobs, views, changes.

Plain frozen data, so callers never hold a row or a connection; times are UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

__all__ = [
    "FAILED",
    "FAIR_SHARE",
    "QUEUED",
    "RETRY_WAIT",
    "SENDING",
    "SENT",
    "AttemptOutcome",
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
    "StoreError",
    "as_utc",
    "queue_lane",
    "utc_now",
]

QUEUED, SENDING, RETRY_WAIT, FAILED, SENT = "queued", "sending", "retry_wait", "failed", "sent"

#: Recipients of one document that keep its lane; the rest of a large fan-out goes one lane
#: lower, so a document to two thousand agencies cannot hold back the next one-recipient
#: document of the same urgency (they share the queue fairly).
FAIR_SHARE = 20


#: The queue's lanes, the first served first.
QUEUE_LANES = (3, 2, 1, 0)


def queue_lane(priority: int, index: int) -> int:
    """The queue's lane (0..3, higher first) of the ``index``-th recipient of a document of
    ``priority`` (spec 1.4 OtherInfo/Priority: 0 normal, 1 urgent, 2+ most urgent)."""
    lane = 1 + min(max(priority, 0), 2)
    return lane if index < FAIR_SHARE else lane - 1


#: What a store operation raises when the database fails (unreachable, a lost connection):
#: callers that can wait catch it without knowing the database library.
StoreError = sa.exc.SQLAlchemyError


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
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
    document_type: str = ""  # Tên loại, e.g. "Công văn"
    signer: str = ""  # the signer's position and name
    document_date: dt.date | None = None  # the date the document bears
    copies: int | None = None  # Số lượng bản


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


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptOutcome:
    """How one attempt ended, as the store records it (``Store.finish_attempts``).

    ``state`` is ``sent``, ``retry_wait`` (with ``next_attempt_at``) or ``failed``; the
    attempt number fences it: an outcome for an attempt no longer ``sending`` is dropped.
    """

    delivery_id: str
    attempt: int
    state: str
    detail: str
    remote_id: str | None = None
    error: str | None = None
    next_attempt_at: dt.datetime | None = None
    #: Whether the next attempt must ask the destination first; None keeps what it was.
    in_doubt: bool | None = None
    backoff_step: int | None = None
    #: A failure the destination gave for good (no retry, and no blind requeue)
    permanent: bool = False

    @classmethod
    def sent(
        cls, delivery_id: str, attempt: int, remote_id: str | None, *, note: str = ""
    ) -> AttemptOutcome:
        detail = f"attempt {attempt}" + (f", remote id {remote_id}" if remote_id else "")
        return cls(
            delivery_id=delivery_id, attempt=attempt, state=SENT, remote_id=remote_id,
            in_doubt=False, detail=f"{detail}: {note}" if note else detail,
        )  # fmt: skip

    @classmethod
    def retry(
        cls,
        delivery_id: str,
        attempt: int,
        error: str,
        next_attempt_at: dt.datetime,
        *,
        in_doubt: bool = False,
        backoff_step: int | None = None,
    ) -> AttemptOutcome:
        """``in_doubt``: the destination may have carried it out (no answer came back), so
        the next attempt asks it first. ``backoff_step``: the retry schedule's step now used."""
        doubt = "; its outcome is unknown" if in_doubt else ""
        return cls(
            delivery_id=delivery_id, attempt=attempt, state=RETRY_WAIT, error=error,
            next_attempt_at=next_attempt_at, in_doubt=in_doubt, backoff_step=backoff_step,
            detail=(
                f"attempt {attempt} failed: {error}{doubt}; "
                f"next at {next_attempt_at.isoformat()}"
            ),
        )  # fmt: skip

    @classmethod
    def failed(
        cls, delivery_id: str, attempt: int, error: str, *, permanent: bool = False
    ) -> AttemptOutcome:
        return cls(
            delivery_id=delivery_id, attempt=attempt, state=FAILED, error=error,
            detail=f"attempt {attempt}: {error}", permanent=permanent,
        )  # fmt: skip


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
    permanent: bool = False  # refused for good: a correction helps, sending again does not


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
    priority: int = 0
    due_date: dt.date | None = None
    document_type: str = ""
    signer: str = ""
