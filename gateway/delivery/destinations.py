"""Destinations: where a delivery goes once routed, each behind one small interface.

``deliver(job, package)`` hands one recipient's copy over and returns the remote id (the
axis docId, the hub's id) or None; it raises the adapters' ``RemoteServiceError``, whose
``transient`` flag the dispatcher reads. Each destination sends to exactly one recipient:
the axis gets the ``to`` field (raw JSON, spec 3.3) naming it, so a package with several
``To`` is delivered, tracked and retried per recipient (Điều 14.3a).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Protocol

import edxml
from adapters.axis.client import AxisClient, MessageType
from adapters.errors import RemoteServiceError
from adapters.lgsp.client import LgspClient
from adapters.ministry_rest import MinistryRestClient
from adapters.soap_hub import SoapHubClient
from adapters.store.store import DeliveryJob

__all__ = [
    "AxisDestination",
    "Destination",
    "LgspDestination",
    "LocalDestination",
    "LocalReceiver",
    "RestDestination",
    "SoapHubDestination",
    "UnreadablePackage",
]


class Destination(Protocol):
    name: str
    #: Whether the destination can be asked what it received (``find_delivered``). Where it
    #: cannot, an attempt in doubt is sent again and may arrive twice (the README says so).
    can_look_up: bool
    #: Whether delivering the same copy again is harmless (it finds the first one).
    idempotent: bool

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        """Send ``package``: the stored one (``job.package_ref`` names it by its SHA-256),
        signed first when it was stored waiting for its signature (``job.needs_signature``).
        Returns the destination's id for it, if it gives one."""
        ...

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        """For an attempt in doubt (its worker died, or no answer came back): the remote ids
        of copies the destination holds that may be this one, best first; the dispatcher
        takes the first that no other delivery of ours has claimed."""
        ...

    async def probe(self) -> bool:
        """A cheap authenticated call that shows the destination answers again: True if it
        did, False if it cannot be probed (its first success tells instead); a
        ``RemoteServiceError`` if it still fails."""
        ...


class UnreadablePackage(RemoteServiceError):
    """Our own stored package cannot be read back: no retry will help."""


class AxisDestination:
    """The national axis (VDXP): ``sendEdoc`` with ``to`` = the one recipient."""

    can_look_up, idempotent = True, False

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
            # the bytes as stored are named by their digest; signed since, they are not
            sha256=None if job.needs_signature else bytes.fromhex(job.package_ref),
        )

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        """Copies in ``getSentEdocList`` with the same recipient, number/notation and subject
        (the axis lists no DocumentId), newest first."""
        message_type: MessageType = "status" if job.message_type == "status" else "edoc"
        rows = await self._client.sent_list(message_type)
        return [
            row.doc_id
            for row in reversed(rows)
            if (row.receiver, row.notation, row.title) == (job.recipient, job.code, job.subject)
        ]

    async def probe(self) -> bool:
        await self._client.count_received("edoc")  # authenticated, answers a number
        return True


class LgspDestination:
    """A provincial LGSP in front of the axis: ``POST /vanbans`` with ``to`` = the one
    recipient, as on the axis. The platform publishes no sent list to ask, so an attempt in
    doubt is sent again (the README says so)."""

    can_look_up, idempotent = False, False

    def __init__(self, client: LgspClient, name: str) -> None:
        self.name = name
        self._client = client

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        message_type: MessageType = "status" if job.message_type == "status" else "edoc"
        return await self._client.send_edoc(
            package, message_type=message_type, to=json.dumps([job.recipient])
        )

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []  # no sent list: an attempt in doubt is sent again

    async def probe(self) -> bool:
        await self._client.probe()  # a new token, then the inbox read
        return True


def _addressed_to(package: edxml.Package, recipient: str) -> edxml.Package:
    """The document with ``recipient`` as its only To: a hub that delivers to every To and
    takes no recipient of its own would otherwise give each recipient one copy per
    delivery (Điều 14.3a: each recipient once). The e-doc flavour carries no signature, so
    nothing signed changes; a status package has one recipient already."""
    if not isinstance(package, edxml.DocumentPackage):
        return package
    named = [o for o in package.recipients if o.organ_id == recipient]
    return dataclasses.replace(
        package, recipients=tuple(named[:1]) or (edxml.Organization(organ_id=recipient),)
    )


class SoapHubDestination:
    """An older provincial e-doc hub: the package converted to its SOAP flavour, one
    recipient per delivery."""

    can_look_up, idempotent = False, False

    def __init__(self, client: SoapHubClient, name: str) -> None:
        self.name = name
        self._client = client

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        try:
            parsed = edxml.parse(package)
        except edxml.EdxmlError as exc:
            raise UnreadablePackage(str(exc), operation="SendDocument") from None
        return await self._client.send_document(_addressed_to(parsed, job.recipient))

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []  # the hub has no sent list: an attempt in doubt is sent again

    async def probe(self) -> bool:
        await self._client.pending_document_ids()  # authenticated, changes nothing
        return True


class RestDestination:
    """A ministry's own REST endpoint (``adapters.ministry_rest``)."""

    can_look_up, idempotent = False, False

    def __init__(self, client: MinistryRestClient, name: str) -> None:
        self.name = name
        self._client = client

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        return await self._client.send(package, recipient=job.recipient)

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []  # no way to ask: an attempt in doubt is sent again

    async def probe(self) -> bool:
        return False  # no operation that changes nothing: its first success tells


LocalReceiver = Callable[[DeliveryJob, bytes], Awaitable[str]]


class LocalDestination:
    """An agency of our own province: handed to our inbound side without leaving the gateway."""

    #: The local receiver is idempotent on the delivery id: handing over again is safe.
    can_look_up, idempotent = False, True

    def __init__(self, receive: LocalReceiver, name: str = "local") -> None:
        self.name = name
        self._receive = receive

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        return await self._receive(job, package)

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []  # never asked: handing it over again finds the first copy

    async def probe(self) -> bool:
        return True  # in this process: it answers whenever the gateway does
