"""Accepting an outgoing package: checked, routed, stored, queued — or refused with reasons.

The one door every outgoing package goes through (the REST API and the CLI call it). What
is refused here is never discovered at send time (issue 5):

* a package that does not parse or breaks the edXML rules (XSD + business rules);
* a recipient no route takes, or, for the axis, one missing from the agencies directory
  once that directory has been synchronised (``sync_agencies``);
* a sender the calling client may not act for (``allowed_senders``).

Accepted: the bytes go to the blob store, the message and one queued delivery per recipient
(and their outbox rows) to the store in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

import edxml
from adapters.axis.client import AxisClient
from adapters.blobs import BlobStore
from adapters.store.schema import agencies
from adapters.store.store import NewDelivery, NewMessage, Store, utc_now

from .dispatch.routing import RoutingTable

__all__ = ["AcceptanceError", "Accepted", "accept_package", "sync_agencies"]


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    rule: str
    message: str


class AcceptanceError(Exception):
    """The package was not accepted; ``problems`` says every reason, with field and rule."""

    def __init__(self, problems: list[Refusal]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


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
    allowed_senders: Collection[str] | None = None,
) -> Accepted:
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
    if allowed_senders is not None and sender not in allowed_senders:
        problems.append(
            Refusal("From/OrganId", "auth.sender", f"this client may not send as {sender}")
        )
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
    if problems:
        raise AcceptanceError(problems)
    ref = await asyncio.to_thread(blobs.put, package_bytes)
    if isinstance(package, edxml.DocumentPackage):
        message = NewMessage(
            direction="out",
            document_id=document_id,
            sender=sender,
            code=str(package.code),
            subject=package.subject,
            business_type=package.business.doc_type if package.business else 0,
            priority=(package.other_info.priority or 0) if package.other_info else 0,
            due_date=package.due_date,
            package_ref=ref,
            package_size=len(package_bytes),
            client_id=client_id,
        )
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
        )
    routes = [NewDelivery(r, routing.destination_for(r) or "") for r in dict.fromkeys(recipients)]
    message_id, delivery_ids = await store.accept(message, routes)
    return Accepted(message_id, document_id, tuple(delivery_ids))


async def sync_agencies(store: Store, axis: AxisClient) -> int:
    """Replace the directory's axis entries with ``getAgenciesList``; returns their number."""
    listed = await axis.agencies()
    now = utc_now()
    async with store.engine.begin() as connection:
        await connection.execute(agencies.delete().where(agencies.c.source == "axis"))
        if listed:
            await connection.execute(
                agencies.insert(),
                [
                    {
                        "code": a.code,
                        "name": a.name,
                        "parent": a.parent or None,
                        "source": "axis",
                        "updated_at": now,
                    }
                    for a in {agency.code: agency for agency in listed}.values()
                ],
            )
    return len(listed)
