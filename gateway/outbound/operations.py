"""Business operations on a document we sent: recall, update, replace (spec 1.3, 2.1).

Each builds the packages the standard defines from the stored original and sends them
through the outbound door (``Outbound.submit``: checked, signed, stored) like any other:

* **recall** (thu hồi): the document again with ``Bussiness/BussinessDocType`` 1 pointing at
  it, to every recipient that has it, and a status **13** to each; the recipients answer
  15 (the delivery becomes ``recalled``) or 16 (noted on its timeline).
* **update** (cập nhật, type 2): the document with the changed fields and
  ``BussinessDocumentInfo`` saying what changed; answered by 15/16 (noted).
* **replace** (thay thế, type 3): a new document carrying ``ReplacementInfo`` (the old
  DocumentId and who had it); answered by 15/16 (noted).

Only recipients the original reached are addressed: a copy never sent needs no recall.
Each original delivery gets an event naming the request, so its timeline tells the story.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import edxml
from adapters.blobs import BlobStore
from adapters.store.store import Store
from edxml import vietnam_now
from gateway.delivery.states import RECALL_SOURCE, DeliveryState
from gateway.outbound.accept import AcceptanceError, Accepted, Refusal
from gateway.outbound.door import Outbound

__all__ = ["recall", "replace", "update"]


def _now() -> dt.datetime:
    """Status timestamps are local Vietnam time without a zone (spec 1.7)."""
    return vietnam_now()


async def _original(
    store: Store, blobs: BlobStore, message_id: str
) -> tuple[edxml.DocumentPackage, str, list[tuple[str, str]]]:
    """(package, DocumentId, [(delivery id, recipient)] of the copies that reached them)."""
    message = await store.message(message_id, events=False)
    if message is None or message.direction != "out" or message.message_type != "edoc":
        raise AcceptanceError([Refusal("message", "operation.target", "not a document we sent")])
    package = edxml.parse(await blobs.read(message.package_ref))
    if not isinstance(package, edxml.DocumentPackage):  # pragma: no cover - stored as edoc
        raise AcceptanceError([Refusal("message", "operation.target", "not a document package")])
    reached = [
        (d.id, d.recipient)
        for d in message.deliveries
        if DeliveryState(d.state).delivered
        and d.state not in (DeliveryState.REJECTED, DeliveryState.RECALLED)
    ]
    if not reached:
        raise AcceptanceError(
            [Refusal("message", "operation.reached", "no recipient has this document yet")]
        )
    return package, message.document_id, reached


def _reference(
    package: edxml.DocumentPackage, document_id: str, organ_id: str
) -> edxml.ResponseFor:
    return edxml.ResponseFor(
        organ_id=organ_id,
        code=str(package.code),
        promulgation_date=package.promulgation.date,
        document_id=document_id,
    )


async def recall(
    outbound: Outbound,
    message_id: str,
    *,
    reason: str,
    staff: edxml.StaffInfo | None = None,
) -> list[Accepted]:
    """Ask every recipient that has the document to give it back (13 + a type-1 package)."""
    store = outbound.store
    package, document_id, reached = await _original(store, outbound.blobs, message_id)
    recipients = tuple(
        next((o for o in package.recipients if o.organ_id == r), edxml.Organization(organ_id=r))
        for _, r in reached
    )
    revocation = dataclasses.replace(
        package,
        recipients=recipients,
        business=edxml.Business(
            doc_type=1, document_id=document_id, reason=reason, paper=0, staff=staff
        ),
        response_for=(_reference(package, document_id, package.sender.organ_id),),
        signature=None,
    )
    sent = [await outbound.submit(revocation, limit_recipients=False)]
    for delivery_id, recipient in reached:
        status = edxml.StatusPackage(
            sender=package.sender,
            response_for=_reference(package, document_id, recipient),
            status_code="13",
            description=reason,
            staff=staff,
            timestamp=_now(),
        )
        sent.append(await outbound.submit(status))
        await store.note(delivery_id, source=RECALL_SOURCE, detail=f"recall requested: {reason}")
    return sent


async def update(
    outbound: Outbound,
    message_id: str,
    *,
    reason: str,
    changes: dict[str, Any],
    staff: edxml.StaffInfo | None = None,
) -> Accepted:
    """Send the document again with ``changes`` (model field -> value), business type 2."""
    store = outbound.store
    package, document_id, reached = await _original(store, outbound.blobs, message_id)
    try:
        changed = dataclasses.replace(package, **changes)
    except TypeError as exc:
        raise AcceptanceError([Refusal("changes", "operation.fields", str(exc))]) from None
    info = edxml.BusinessDocumentInfo(document_info=1, document_receiver=0)
    updated = dataclasses.replace(
        changed,
        business=edxml.Business(
            doc_type=2,
            document_id=document_id,
            reason=reason,
            paper=0,
            staff=staff,
            document_info=info,
        ),
        signature=None,
    )
    accepted = await outbound.submit(updated, limit_recipients=False)
    for delivery_id, _ in reached:
        await store.note(delivery_id, source="operator:update", detail=f"update sent: {reason}")
    return accepted


async def replace(
    outbound: Outbound,
    message_id: str,
    replacement: edxml.DocumentPackage,
    *,
    reason: str,
    staff: edxml.StaffInfo | None = None,
) -> Accepted:
    """Send ``replacement`` (a new document) as replacing the original, business type 3."""
    store = outbound.store
    _, document_id, reached = await _original(store, outbound.blobs, message_id)
    info = edxml.ReplacementInfo(document_id=document_id, organ_ids=tuple(r for _, r in reached))
    package = dataclasses.replace(
        replacement,
        business=edxml.Business(
            doc_type=3,
            document_id=document_id,
            reason=reason,
            paper=0,
            staff=staff,
            replacements=(info,),
        ),
    )
    accepted = await outbound.submit(package)
    for delivery_id, _ in reached:
        await store.note(
            delivery_id,
            source="operator:replace",
            detail=f"replaced by {accepted.document_id}: {reason}",
        )
    return accepted
