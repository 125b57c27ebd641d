"""The simulated axis as a hub, in memory: who may send what to whom, and who has taken it.

What it models (spec 3.3, 1.7, pitfall 13), enough for the gateway to be tested as it will
be used:

* A package is sent once and delivered to each recipient agency: each delivery has its own
  ``docId`` (the receiver's) and stays in the receiving system's ``getReceivedEdocList`` until
  that system acknowledges it with ``updateStatus`` ``done`` or ``fail`` (``processing`` keeps
  it listed).
* Recipients come from the package's ``To`` (or the ``to`` field when a client sends one);
  status packages go to ``ResponseFor/OrganId``, the other party of the exchange.
* ``from`` and the package's sender must be agencies of the calling system (pitfall 9).
* Relayed bytes get the hub's ``TraceHeader`` appended (spec 1.7).
* The sender sees each delivery in ``getSentEdocList``: sent, then the receiver's
  acknowledgement and the last status code reported for it.

State is in memory (a restart forgets it): the simulator serves tests, benchmarks and demos.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import time
from collections.abc import Callable
from typing import Any

import edxml
from adapters.axis.auth import SignedFields
from adapters.axis.server import AxisRefusal, Caller
from devtools.axis_simulator.config import SimulatorConfig
from devtools.axis_simulator.directory import AgencyDirectory
from devtools.axis_simulator.items import _ACK_MEANING, _STATUS_MEANING, Delivery, Sent, _clock_text

__all__ = ["AxisHub", "Delivery", "Sent"]


class AxisHub(AgencyDirectory):
    """The ``AxisBackend`` of the simulator. ``faults_duplicate_rate`` is read on each ack."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        rng: random.Random | None = None,
        duplicate_rate: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._config = config
        self._now = now
        self._rng = rng or random.Random()  # noqa: S311 (faults, not secrets)
        self._duplicate_rate = duplicate_rate
        AgencyDirectory.__init__(self, config)
        self._sent: dict[str, Sent] = {}
        self._deliveries: dict[str, Delivery] = {}
        # Indexes, so polling and status routing stay cheap with many documents in the hub.
        self._listed: dict[str, dict[str, Delivery]] = {}  # receiving system -> listed items
        self._from_system: dict[str, list[Delivery]] = {}  # sending system -> its deliveries
        self._to_agency: dict[str, list[Delivery]] = {}  # receiving agency -> its deliveries
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
        self._process = os.urandom(5).hex()

    # -- identifiers -------------------------------------------------------------------------

    def _new_id(self) -> str:
        """A 24-hex id like the axis' (an ObjectId: seconds, process, counter; spec 4.2)."""
        return f"{int(time.time()):08x}{self._process}{next(self._counter) % 0xFFFFFF:06x}"

    # -- sending -----------------------------------------------------------------------------

    def _read(self, package: bytes) -> edxml.Package:
        try:
            parsed = edxml.parse(package)
        except edxml.EdxmlError as exc:
            raise AxisRefusal(400, "422", f"the package is not valid edXML: {exc}") from None
        if self._config.strict_validation:
            errors = edxml.validate(package)
            if errors:
                listed = "; ".join(f"{p.rule}: {p.message}" for p in errors[:5])
                raise AxisRefusal(400, "422", f"the package breaks the edXML rules: {listed}")
        return parsed

    async def send(
        self,
        caller: Caller,
        package: bytes,
        *,
        message_type: str,
        sender: str,
        to: list[str] | None,
    ) -> str:
        if not self._owns(caller, sender):
            raise AxisRefusal(
                403, "403", f"from={sender} is not an agency of system {caller.system_id}"
            )
        parsed = self._read(package)
        if message_type == "edoc" and not isinstance(parsed, edxml.DocumentPackage):
            raise AxisRefusal(400, "400", "messagetype=edoc but the package is a status package")
        if message_type == "status" and not isinstance(parsed, edxml.StatusPackage):
            raise AxisRefusal(
                400, "400", "messagetype=status but the package is a document package"
            )
        if not self._owns(caller, parsed.sender.organ_id):
            raise AxisRefusal(
                403,
                "403",
                f"the package's From {parsed.sender.organ_id} is not an agency of "
                f"{caller.system_id}",
            )
        if isinstance(parsed, edxml.DocumentPackage):
            recipients = to or [organization.organ_id for organization in parsed.recipients]
            document_id = parsed.document_id or edxml.document_id_of(parsed)
            title, notation = parsed.subject, str(parsed.code)
        else:
            recipients = to or [parsed.response_for.organ_id]
            document_id = parsed.response_for.document_id or ""
            title, notation = parsed.description or "", parsed.response_for.code or ""
        unknown = [code for code in recipients if code not in self._agencies]
        if unknown:
            raise AxisRefusal(400, "404", f"unknown recipient agencies: {', '.join(unknown)}")
        now = self._now()
        relayed = (
            edxml.append_trace_header(package, self._config.trace_organ_id, now)
            if self._config.append_trace
            else package
        )
        sent = Sent(
            self._new_id(),
            message_type,
            caller.system_id,
            sender,
            parsed.sender.organ_id,
            relayed,
            document_id,
            title,
            notation,
            now,
        )
        self._sent[sent.doc_id] = sent
        for code in dict.fromkeys(recipients):
            self._add(Delivery(self._new_id(), sent, code, self._agencies[code][1], now, now))
        if isinstance(parsed, edxml.StatusPackage):
            self._note_status(parsed)
        return sent.doc_id

    def _add(self, delivery: Delivery) -> None:
        self._deliveries[delivery.doc_id] = delivery
        self._listed.setdefault(delivery.system_id, {})[delivery.doc_id] = delivery
        self._from_system.setdefault(delivery.sent.system_id, []).append(delivery)
        self._to_agency.setdefault(delivery.to, []).append(delivery)

    def _note_status(self, status: edxml.StatusPackage) -> None:
        """Record a reported status on the original deliveries it answers (for getSentEdocList)."""
        reporter, original_sender = status.sender.organ_id, status.response_for.organ_id
        for delivery in self._to_agency.get(reporter, ()):
            sent = delivery.sent
            if (
                sent.message_type == "edoc"
                and delivery.to == reporter
                and original_sender in (sent.origin, sent.sender)
                and sent.document_id == status.response_for.document_id
            ):
                delivery.status_code = status.status_code

    # -- receiving ---------------------------------------------------------------------------

    def _delivery_for(self, caller: Caller, doc_id: str) -> Delivery:
        delivery = self._deliveries.get(doc_id)
        if delivery is None or delivery.system_id != caller.system_id:
            raise AxisRefusal(404, "404", f"no document {doc_id} for system {caller.system_id}")
        return delivery

    async def received(self, caller: Caller, message_type: str) -> list[dict[str, Any]]:
        return [
            {
                "docId": delivery.doc_id,
                "serviceType": "eDoc",
                "messageType": delivery.sent.message_type,
                "created_time": _clock_text(delivery.created),
                "updated_time": _clock_text(delivery.updated),
                "from": delivery.sent.sender,
                "to": delivery.to,
                "status": delivery.ack,
                "status_desc": _ACK_MEANING[delivery.ack],
            }
            for delivery in self._listed.get(caller.system_id, {}).values()
            if delivery.sent.message_type == message_type
        ]

    async def get(self, caller: Caller, doc_id: str) -> bytes:
        return self._delivery_for(caller, doc_id).sent.package

    async def update_status(self, caller: Caller, doc_id: str, status: str) -> None:
        delivery = self._delivery_for(caller, doc_id)
        delivery.ack, delivery.updated = status, self._now()
        if (
            status == "done"
            and not delivery.duplicated
            and self._rng.random() < self._duplicate_rate()
        ):
            # The axis delivers the same docId again (spec pitfall 13): receivers must dedupe.
            delivery.duplicated, delivery.ack = True, "pending"
        listed = self._listed.setdefault(delivery.system_id, {})
        if delivery.listed:
            listed[delivery.doc_id] = delivery
        else:
            listed.pop(delivery.doc_id, None)

    async def count(self, caller: Caller, message_type: str) -> int:
        return len(await self.received(caller, message_type))

    async def sent(self, caller: Caller, message_type: str, doc_id: str) -> list[dict[str, Any]]:
        rows = []
        for delivery in self._from_system.get(caller.system_id, ()):
            sent = delivery.sent
            if sent.message_type != message_type:
                continue
            if doc_id and doc_id not in (sent.doc_id, delivery.doc_id):
                continue
            code_meaning = _STATUS_MEANING.get(delivery.status_code, "")
            rows.append(
                {
                    "serviceType": "eDoc",
                    "messageType": sent.message_type,
                    "senderDocId": sent.doc_id,
                    "receiverDocId": delivery.doc_id,
                    "fromCode": sent.sender,
                    "toCode": delivery.to,
                    "title": sent.title,
                    "notation": sent.notation,
                    "sentTime": _clock_text(sent.created),
                    "receivedTime": "" if delivery.listed else _clock_text(delivery.updated),
                    "sendStatus": "sent",
                    "sendStatusDesc": "Đã gửi",
                    "receiveStatus": delivery.ack,
                    "receiveStatusDesc": _ACK_MEANING[delivery.ack],
                    "statusCode": delivery.status_code,
                    "statusCodeDesc": code_meaning,
                }
            )
        return rows

    # -- the SOAP face's per-agency view (spec 3.4) ---------------------------------------------

    def as_system(self, system_id: str) -> Caller:
        """A caller for ``system_id``, for faces that authenticate another way (SOAP tokens)."""
        return Caller(system_id, SignedFields({"systemid": system_id}))

    def pending_for(self, organ_id: str, message_type: str = "edoc") -> list[Delivery]:
        return [
            delivery
            for delivery in self._to_agency.get(organ_id, ())
            if delivery.sent.message_type == message_type and delivery.listed
        ]

    def delivery_to(self, organ_id: str, doc_id: str) -> Delivery:
        delivery = self._deliveries.get(doc_id)
        if delivery is None or delivery.to != organ_id:
            raise AxisRefusal(404, "M.DocumentId", f"no document {doc_id} for {organ_id}")
        return delivery

    async def report_status(
        self,
        reporter: str,
        document_id: str,
        status_code: str,
        *,
        description: str | None = None,
        timestamp: dt.datetime | None = None,
        staff: edxml.StaffInfo | None = None,
    ) -> str:
        """Turn a trace of the SOAP flavour into a status package to the document's sender."""
        original = next(
            (
                delivery
                for delivery in self._to_agency.get(reporter, ())
                if delivery.sent.message_type == "edoc" and delivery.sent.document_id == document_id
            ),
            None,
        )
        if original is None:
            raise AxisRefusal(404, "M.DocumentId", f"{reporter} received no document {document_id}")
        sent = original.sent
        document = edxml.parse(sent.package)
        status = edxml.StatusPackage(
            sender=edxml.Organization(organ_id=reporter, organ_name=self.agency_name(reporter)),
            response_for=edxml.ResponseFor(
                organ_id=sent.origin,
                code=sent.notation,
                promulgation_date=getattr(getattr(document, "promulgation", None), "date", None),
                document_id=document_id,
            ),
            status_code=status_code,
            description=description,
            staff=staff,
            timestamp=timestamp or self._now().replace(microsecond=0),
        )
        system_id = self.system_of(reporter)
        assert system_id is not None  # it received the document, so it is registered
        return await self.send(
            self.as_system(system_id),
            edxml.build(status),
            message_type="status",
            sender=reporter,
            to=None,
        )

    def statuses_for(self, organ_id: str, since: dt.datetime | None) -> list[edxml.StatusPackage]:
        found = []
        for delivery in self._to_agency.get(organ_id, ()):
            if delivery.sent.message_type != "status":
                continue
            if since is not None and delivery.created < since:
                continue
            package = edxml.parse(delivery.sent.package)
            if isinstance(package, edxml.StatusPackage):
                found.append(package)
        return found

    # -- for tests and the admin endpoint --------------------------------------------------------

    def deposit(
        self,
        package: bytes,
        *,
        to: str,
        sender: str,
        message_type: str = "edoc",
        doc_id: str | None = None,
    ) -> str:
        """Put a package in ``to``'s received list as if someone outside had sent it."""
        system_id = self.system_of(to)
        if system_id is None:
            raise KeyError(f"unknown agency {to}")
        now = self._now()
        sent = Sent(self._new_id(), message_type, "", sender, sender, package, "", "", "", now)
        delivery = Delivery(doc_id or self._new_id(), sent, to, system_id, now, now)
        self._add(delivery)
        return delivery.doc_id

    def summary(self) -> dict[str, Any]:
        listed = sum(len(items) for items in self._listed.values())
        return {
            "systems": sorted(self._systems),
            "agencies": len(self._agencies),
            "sent": len(self._sent),
            "deliveries": len(self._deliveries),
            "pending": listed,
        }
