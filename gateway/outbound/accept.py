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
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypedDict

import edxml
from adapters.blobs import BlobStore
from adapters.store.store import (
    ConcurrentChange,
    DuplicateMessage,
    NewDelivery,
    NewMessage,
    StatusAnswer,
    Store,
)
from gateway.delivery.routing import RoutingTable
from gateway.delivery.states import reported_status_may_follow
from gateway.outbound.model_build import CheckedModel
from gateway.signing import MissingSigningKey

__all__ = [
    "DEFAULT_MAX_RECIPIENTS",
    "AcceptanceError",
    "Accepted",
    "DuplicateDocument",
    "RegisterFacts",
    "StatusOutOfOrder",
    "accept_package",
    "register_facts",
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
    sign: Callable[[bytes, str], Iterable[bytes]] | None = None,
    owed: bool = False,
    built_from: CheckedModel | None = None,
) -> Accepted:
    """Check ``package_bytes`` and store it with one queued delivery per recipient, or
    refuse it with every reason (``AcceptanceError``) having stored nothing.

    ``sign(bytes, organ_id)`` signs a package that carries no signature yet (in pieces,
    written to the blob store as they come), once every
    check passed (``gateway.outbound.door`` passes it; Điều 5.2). When it finds no key: refused,
    unless ``owed`` (a status we must send): then it is stored unsigned, marked as waiting
    for its signature, which the dispatcher adds before it is sent.

    ``built_from``: the model ``package_bytes`` was just built from with ``edxml.build``
    (the API's records, the packages we make), checked by ``check_model``: not parsed back."""
    package, found = await _read(package_bytes, built_from)
    problems = [
        Refusal(problem.path or "package", problem.rule, problem.message) for problem in found
    ]
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
    pieces: Iterable[bytes] = (package_bytes,)
    if sign is not None and package.signature is None:
        try:
            pieces = sign(package_bytes, sender)
        except MissingSigningKey as exc:
            if not owed:
                raise AcceptanceError([Refusal("From/OrganId", "Điều 5.2", str(exc))]) from None
            needs_signature = True
    ref, size = await asyncio.to_thread(_put_counted, blobs, pieces)
    message, unique = _new_message(
        package,
        document_id,
        ref,
        size,
        client_id=client_id,
        needs_signature=needs_signature,
        resend=resend,
    )
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


def _new_message(
    package: edxml.Package,
    document_id: str,
    ref: str,
    size: int,
    *,
    client_id: str | None,
    needs_signature: bool,
    resend: bool,
) -> tuple[NewMessage, bool]:
    """The message row of an accepted package, and whether its DocumentId must be unique
    (a new document not sent again on purpose)."""
    sender = package.sender.organ_id
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
            package_size=size,
            client_id=client_id,
            **register_facts(package),
        )
        return message, business_type == 0 and not resend
    assert isinstance(package, edxml.StatusPackage)
    message = NewMessage(
        direction="out",
        document_id=document_id,
        sender=sender,
        code=package.response_for.code or "",
        subject=package.description or "",
        message_type="status",
        status_code=package.status_code,
        package_ref=ref,
        package_size=size,
        client_id=client_id,
        needs_signature=needs_signature,
    )
    return message, False


class RegisterFacts(TypedDict):
    document_type: str
    signer: str
    document_date: dt.date
    copies: int | None


def register_facts(package: edxml.DocumentPackage) -> RegisterFacts:
    """What lists, the document page and the registers show of a document (Nghị định 30
    Phụ lục IV): its type name (Tên loại), its signer's position and name, its date and
    the copies issued (Số lượng bản)."""
    signer = package.signer
    named = " ".join(part for part in (signer.position, signer.full_name) if part) if signer else ""
    return RegisterFacts(
        document_type=package.document_type.type_name or "",
        signer=named,
        document_date=package.promulgation.date,
        copies=package.other_info.promulgation_amount if package.other_info else None,
    )


def _put_counted(blobs: BlobStore, pieces: Iterable[bytes]) -> tuple[str, int]:
    """Store the pieces as one blob: its reference and its size."""
    size = 0

    def counted() -> Iterable[bytes]:
        nonlocal size
        for piece in pieces:
            size += len(piece)
            yield piece

    return blobs.put_chunks(counted()), size


async def _read(
    package_bytes: bytes, built_from: CheckedModel | None
) -> tuple[edxml.Package | None, list[edxml.Problem]]:
    """The package and its problems: parsed and checked from the bytes, or those of the
    model the bytes were built from (``check_model``)."""
    if built_from is not None:
        return built_from.package, list(built_from.problems)
    try:
        result = await asyncio.to_thread(edxml.check, package_bytes)
    except edxml.EdxmlError as exc:
        raise AcceptanceError([Refusal("package", "edxml.parse", str(exc))]) from None
    return result.package, list(result.problems)


async def _route_problems(
    store: Store, routing: RoutingTable, package: edxml.Package, recipients: list[str]
) -> list[Refusal]:
    problems = []
    directory = await store.listed_agencies(recipients)
    for index, recipient in enumerate(recipients, start=1):
        destination = routing.destination_for(recipient)
        where = (
            f"To[{index}]/OrganId"
            if isinstance(package, edxml.DocumentPackage)
            else "ResponseFor/OrganId"
        )
        if destination is None:
            problems.append(Refusal(where, "route.unknown", f"no route takes {recipient}"))
        elif (
            destination in routing.national and directory is not None and recipient not in directory
        ):
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
    found = await store.received_for_status(
        status.response_for.document_id or "",
        status.response_for.organ_id,
        status.sender.organ_id,
    )
    if found is None:
        return None
    message_id, previous = found
    if not reported_status_may_follow(previous, status.status_code):
        raise StatusOutOfOrder(status.status_code, previous or "")
    if status.status_code not in ("01", "02", "03", "04", "05", "06"):
        return None  # an answer to a request leaves the document's own status as it is
    return StatusAnswer(message_id, previous, status.status_code)
