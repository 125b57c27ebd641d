"""Destinations: where a delivery goes once routed, each behind one small interface.

``deliver(job, package)`` hands one recipient's copy over and returns the remote id (the
axis docId, the hub's id) or None; it raises the adapters' ``RemoteServiceError``, whose
``transient`` flag the dispatcher reads. Each destination sends to exactly one recipient:
the axis gets the ``to`` field (raw JSON, spec 3.3) naming it, so a package with several
``To`` is delivered, tracked and retried per recipient (Điều 14.3a).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Protocol

import edxml
from adapters.axis.client import AxisClient, MessageType
from adapters.errors import RemoteServiceError
from adapters.ministry_rest import MinistryRestClient
from adapters.soap_hub import SoapHubClient
from adapters.store.store import DeliveryJob

__all__ = [
    "AxisDestination",
    "Destination",
    "LocalDestination",
    "RestDestination",
    "SoapHubDestination",
    "UnreadablePackage",
]


class Destination(Protocol):
    name: str

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None: ...

    async def find_delivered(self, job: DeliveryJob) -> str | None:
        """For an attempt in doubt (its worker died mid-way): the remote id if the
        destination already has this copy, so it is not sent twice; None if unknown."""
        ...


class UnreadablePackage(RemoteServiceError):
    """Our own stored package cannot be read back: no retry will help."""


class AxisDestination:
    """The national axis (VDXP): ``sendEdoc`` with ``to`` = the one recipient."""

    def __init__(self, client: AxisClient, name: str = "axis") -> None:
        self.name = name
        self._client = client

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        message_type: MessageType = "status" if job.message_type == "status" else "edoc"
        return await self._client.send_edoc(
            package,
            sender=job.sender,
            message_type=message_type,
            to=json.dumps([job.recipient]),
        )

    async def find_delivered(self, job: DeliveryJob) -> str | None:
        """Look the copy up in ``getSentEdocList``: same recipient, number/notation and
        subject, sent since the message was accepted (the axis lists no DocumentId)."""
        message_type: MessageType = "status" if job.message_type == "status" else "edoc"
        for row in await self._client.sent_list(message_type):
            if (row.receiver, row.notation, row.title) == (job.recipient, job.code, job.subject):
                return row.doc_id
        return None


class SoapHubDestination:
    """An older provincial e-doc hub: the package converted to its SOAP flavour."""

    def __init__(self, client: SoapHubClient, name: str) -> None:
        self.name = name
        self._client = client

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        try:
            parsed = edxml.parse(package)
        except edxml.EdxmlError as exc:
            raise UnreadablePackage(str(exc), operation="SendDocument") from None
        return await self._client.send_document(parsed)

    async def find_delivered(self, job: DeliveryJob) -> str | None:
        return None  # the hub has no sent list: an attempt in doubt is sent again


class RestDestination:
    """A ministry's own REST endpoint (``adapters.ministry_rest``)."""

    def __init__(self, client: MinistryRestClient, name: str) -> None:
        self.name = name
        self._client = client

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        return await self._client.send(package, recipient=job.recipient)

    async def find_delivered(self, job: DeliveryJob) -> str | None:
        return None  # no way to ask: an attempt in doubt is sent again


LocalReceiver = Callable[[DeliveryJob, bytes], Awaitable[str]]


class LocalDestination:
    """An agency of our own province: handed to our inbound side without leaving the gateway."""

    def __init__(self, receive: LocalReceiver, name: str = "local") -> None:
        self.name = name
        self._receive = receive

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        return await self._receive(job, package)

    async def find_delivered(self, job: DeliveryJob) -> str | None:
        return None  # the local receiver is idempotent on the delivery id
