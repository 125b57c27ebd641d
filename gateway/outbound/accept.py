"""Accepting an outgoing package: checked, routed, stored, queued — or refused with reasons.

The one door every outgoing package goes through (the REST API, the VDXP facade, the
operations and the statuses we answer call it). What is refused here is never discovered at
send time, and a refused package leaves nothing behind (it is checked before anything is
stored):

* a package that does not parse or breaks the edXML rules (XSD + business rules);
* a sender the caller may not act for (``may_send_as``);
* more recipients than ``max_recipients`` (a setting);
* a recipient no route takes, or, for the axis, one missing from the agencies directory
  once that directory has been synchronised (``sync_agencies``);
* a new document whose DocumentId the same sender already sent and that did not fail,
  unless ``resend`` says the client means it (``DuplicateDocument``, naming the message);
* a status about a document we received that would move it backwards (06, then 03): the
  statuses we report go forward only (``StatusOutOfOrder``, naming the current one).

Accepted: the bytes go to the blob store, the message and one queued delivery per recipient
(and their outbox rows) to the store in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

import edxml
from adapters.axis.client import AxisClient, AxisError
from adapters.blobs import BlobStore
from adapters.store.schema import agencies, messages
from adapters.store.store import (
    ConcurrentChange,
    DuplicateMessage,
    NewDelivery,
    NewMessage,
    StatusAnswer,
    Store,
    utc_now,
)
from gateway.delivery.routing import RoutingTable
from gateway.delivery.states import reported_status_may_follow
from gateway.signing import MissingSigningKey

__all__ = [
    "DEFAULT_MAX_RECIPIENTS",
    "AcceptanceError",
    "Accepted",
    "DuplicateDocument",
    "StatusOutOfOrder",
    "accept_package",
    "directory_state",
    "run_directory_sync",
    "sync_agencies",
]

log = logging.getLogger(__name__)

#: Recipients one document may have (the ``max_recipients_per_document`` setting).
DEFAULT_MAX_RECIPIENTS = 500


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    rule: str
    message: str


class AcceptanceError(Exception):
    """The package was not accepted; ``problems`` says every reason, with field and rule."""

    #: What the caller must change is in the package (422) or in the state of things (409).
    conflict = False

    def __init__(self, problems: list[Refusal]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class DuplicateDocument(AcceptanceError):
    """The sender already sent this DocumentId and that message did not fail."""

    conflict = True

    def __init__(self, document_id: str, message_id: str) -> None:
        super().__init__(
            [
                Refusal(
                    "DocumentId",
                    "document.duplicate",
                    f"{document_id} was already sent as message {message_id}, which has not "
                    "failed; to send it once more on purpose, say so (resend)",
                )
            ]
        )
        self.message_id = message_id


class StatusOutOfOrder(AcceptanceError):
    """A status that would move a document we received backwards (or report it again)."""

    conflict = True

    def __init__(self, code: str, current: str) -> None:
        super().__init__(
            [
                Refusal(
                    "StatusCode",
                    "status.order",
                    f"status {code} cannot follow {current}: the statuses reported about a "
                    f"document go forward only (its current status is {current})",
                )
            ]
        )
        self.current = current


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str
    document_id: str
    delivery_ids: tuple[str, ...]


async def _directory(store: Store) -> set[str]:
    async with store.engine.connect() as connection:
        return set((await connection.execute(sa.select(agencies.c.code))).scalars())


async def accept_package(
    store: Store,
    blobs: BlobStore,
    routing: RoutingTable,
    package_bytes: bytes,
    *,
    client_id: str | None = None,
    may_send_as: Callable[[str], bool] | None = None,
    max_recipients: int | None = DEFAULT_MAX_RECIPIENTS,
    resend: bool = False,
    idempotency: tuple[str, str] | None = None,
    sign: Callable[[bytes, str], bytes] | None = None,
    owed: bool = False,
) -> Accepted:
    """Check ``package_bytes`` and store it with one queued delivery per recipient, or
    refuse it with every reason (``AcceptanceError``) having stored nothing.

    ``sign(bytes, organ_id)`` signs a package that carries no signature yet, once every
    check passed (``gateway.outbound.door`` passes it; Điều 5.2). When it finds no key: refused,
    unless ``owed`` (a status we must send): then it is stored unsigned, marked as waiting
    for its signature, which the dispatcher adds before it is sent."""
    try:
        result = await asyncio.to_thread(edxml.check, package_bytes)
    except edxml.EdxmlError as exc:
        raise AcceptanceError([Refusal("package", "edxml.parse", str(exc))]) from None
    problems = [
        Refusal(problem.path or "package", problem.rule, problem.message)
        for problem in result.problems
    ]
    package = result.package
    if package is None:
        raise AcceptanceError(problems or [Refusal("package", "edxml.parse", "unreadable")])
    if isinstance(package, edxml.DocumentPackage):
        recipients = [organization.organ_id for organization in package.recipients]
        document_id = package.document_id or edxml.document_id_of(package)
    else:
        recipients = [package.response_for.organ_id]
        document_id = package.response_for.document_id or ""
    sender = package.sender.organ_id
    if may_send_as is not None and not may_send_as(sender):
        problems.append(
            Refusal("From/OrganId", "auth.sender", f"this client may not send as {sender}")
        )
    unique_recipients = list(dict.fromkeys(recipients))
    if max_recipients is not None and len(unique_recipients) > max_recipients:
        problems.append(
            Refusal(
                "To",
                "limits.max_recipients",
                f"{len(unique_recipients)} recipients; a document may have at most "
                f"{max_recipients} (setting max_recipients_per_document)",
            )
        )
    else:
        problems.extend(await _route_problems(store, routing, package, recipients))
    if problems:
        raise AcceptanceError(problems)
    needs_signature = False
    if sign is not None and package.signature is None:
        try:
            package_bytes = await asyncio.to_thread(sign, package_bytes, sender)
        except MissingSigningKey as exc:
            if not owed:
                raise AcceptanceError([Refusal("From/OrganId", "Điều 5.2", str(exc))]) from None
            needs_signature = True
    ref = await asyncio.to_thread(blobs.put, package_bytes)
    if isinstance(package, edxml.DocumentPackage):
        business_type = package.business.doc_type if package.business else 0
        message = NewMessage(
            direction="out",
            document_id=document_id,
            sender=sender,
            code=str(package.code),
            subject=package.subject,
            business_type=business_type,
            priority=(package.other_info.priority or 0) if package.other_info else 0,
            due_date=package.due_date,
            package_ref=ref,
            package_size=len(package_bytes),
            client_id=client_id,
        )
        unique = business_type == 0 and not resend
    else:
        message = NewMessage(
            direction="out",
            document_id=document_id,
            sender=sender,
            code=package.response_for.code or "",
            subject=package.description or "",
            message_type="status",
            status_code=package.status_code,
            package_ref=ref,
            package_size=len(package_bytes),
            client_id=client_id,
            needs_signature=needs_signature,
        )
        unique = False
    routes = [NewDelivery(r, routing.destination_for(r) or "") for r in unique_recipients]
    for _ in range(5):  # another status about the same document may commit under us
        answer = (
            await _status_answer(store, package)
            if isinstance(package, edxml.StatusPackage)
            else None
        )
        try:
            message_id, delivery_ids = await store.accept(
                message, routes, unique=unique, answer=answer, idempotency=idempotency
            )
        except DuplicateMessage as exc:
            raise DuplicateDocument(document_id, exc.message_id) from None
        except ConcurrentChange:
            continue
        return Accepted(message_id, document_id, tuple(delivery_ids))
    raise AcceptanceError(
        [Refusal("StatusCode", "status.order", "the document's status keeps changing; try again")]
    )


async def _route_problems(
    store: Store, routing: RoutingTable, package: edxml.Package, recipients: list[str]
) -> list[Refusal]:
    problems = []
    directory = await _directory(store)
    for index, recipient in enumerate(recipients, start=1):
        destination = routing.destination_for(recipient)
        where = (
            f"To[{index}]/OrganId"
            if isinstance(package, edxml.DocumentPackage)
            else "ResponseFor/OrganId"
        )
        if destination is None:
            problems.append(Refusal(where, "route.unknown", f"no route takes {recipient}"))
        elif destination == "axis" and directory and recipient not in directory:
            problems.append(
                Refusal(
                    where, "route.directory", f"{recipient} is not in the axis' agencies directory"
                )
            )
    return problems


async def _status_answer(store: Store, status: edxml.StatusPackage) -> StatusAnswer | None:
    """The received document a status of ours is about, and whether it may move there.

    Raises ``StatusOutOfOrder`` for a status that would go backwards; returns None for a
    status about nothing we received, or one that answers a request (13, 15, 16)."""
    async with store.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(messages.c.id, messages.c.reported_status)
                .where(
                    messages.c.direction == "in",
                    messages.c.message_type == "edoc",
                    messages.c.business_type == 0,
                    messages.c.document_id == (status.response_for.document_id or ""),
                    messages.c.sender == status.response_for.organ_id,
                    messages.c.recipient == status.sender.organ_id,
                )
                .order_by(messages.c.created_at)
                .limit(1)
            )
        ).first()
    if row is None:
        return None
    previous = row.reported_status
    if not reported_status_may_follow(previous, status.status_code):
        raise StatusOutOfOrder(status.status_code, previous or "")
    if status.status_code not in ("01", "02", "03", "04", "05", "06"):
        return None  # an answer to a request leaves the document's own status as it is
    return StatusAnswer(row.id, previous, status.status_code)


async def sync_agencies(store: Store, axis: AxisClient) -> int:
    """Replace the directory's axis entries with ``getAgenciesList``; returns their number.

    An empty answer changes nothing: the axis never has no agencies, and acceptance must not
    lose its directory to a glitch."""
    listed = await axis.agencies()
    if not listed:
        return 0
    now = utc_now()
    async with store.engine.begin() as connection:
        # the certificate identities an operator recorded stay with their agency
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
        fresh = {agency.code: agency for agency in listed}
        await connection.execute(
            agencies.delete().where(agencies.c.code.in_(list(fresh)))
        )  # a local entry the axis now lists becomes the axis'
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
    return len(listed)


async def directory_state(store: Store) -> tuple[int, dt.datetime | None]:
    """(agencies from the axis, when they were last synchronised — None: never)."""
    async with store.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(sa.func.count(), sa.func.max(agencies.c.updated_at)).where(
                    agencies.c.source == "axis"
                )
            )
        ).one()
    count, last = row
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return int(count or 0), last


async def run_directory_sync(
    store: Store,
    axis: AxisClient,
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
        except AxisError as exc:
            log.warning("agencies directory not synchronised: %s", exc)
            wait = retry_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
