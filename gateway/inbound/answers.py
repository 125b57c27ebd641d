"""The statuses a receiving agency reports about a document it received: 02 refused, 03
registered, 04 assigned, 05 processing, 06 done, 15/16 to a change request (spec 2.1;
Quyết định 28/2018 Điều 9.2–9.4).

One function builds the status package from the received document and hands it to the
outbound door, whoever reports: the QLVB through the REST API or a clerk on the dashboard.
The door signs it, refuses a status that would go backwards (``StatusOutOfOrder``) and
queues it to the sender; the sender's side sees it as the delivery's next state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import edxml
from adapters.blobs import BlobStore
from gateway.outbound.accept import Accepted
from gateway.outbound.door import Outbound

__all__ = ["REPORTABLE", "report_status"]

#: What a receiver may report about a document it received.
REPORTABLE = frozenset({"02", "03", "04", "05", "06", "15", "16"})


async def report_status(
    outbound: Outbound,
    blobs: BlobStore,
    received: dict[str, Any],
    code: str,
    *,
    description: str | None = None,
    staff: edxml.StaffInfo | None = None,
) -> Accepted:
    """Send status ``code`` about the received document whose row is ``received``, as the
    agency of ours it was for; ``AcceptanceError`` with the reasons if it is refused."""
    if code not in REPORTABLE:
        raise ValueError(f"status {code!r} is not one a receiver reports")
    data = await blobs.read(received["package_ref"])
    document = await asyncio.to_thread(edxml.parse, data)
    assert isinstance(document, edxml.DocumentPackage)
    reporter = next(
        (o for o in document.recipients if o.organ_id == received["recipient"]),
        edxml.Organization(organ_id=received["recipient"]),
    )
    status = edxml.StatusPackage(
        sender=reporter,
        response_for=edxml.ResponseFor(
            organ_id=document.sender.organ_id,
            code=str(document.code),
            promulgation_date=document.promulgation.date,
            document_id=received["document_id"],
        ),
        status_code=code,
        description=description or None,
        staff=staff,
        timestamp=edxml.vietnam_now(),
    )
    accepted = await outbound.submit(status)
    if received["inbound_state"] == "recall_requested" and code in ("15", "16"):
        # Quyết định 28 Điều 9.4: agreeing to a recall takes the document out of use
        await outbound.store.set_inbound(
            received["id"], state="recalled" if code == "15" else "accepted"
        )
    return accepted
