"""What the axis poller hands packages to: store first, then let the poller acknowledge.

The minimal inbound path of the delivery engine (issue 5): a package read from the axis is
parsed (unreadable -> ``HandoverRejected``, which the poller acknowledges ``fail``), written
to the blob store, and recorded as an inbound message together with its axis ``docId``, in
one transaction. Status packages about our own documents then move their deliveries. The
checks of the full inbound pipeline (signatures, recipient, automatic 01/02) build on this.
"""

from __future__ import annotations

import asyncio

import edxml
from adapters.axis.client import ReceivedItem
from adapters.axis.poller import Handover, HandoverRejected
from adapters.blobs import BlobStore
from adapters.store.store import NewMessage, Store

from .dispatch.statuses import apply_status

__all__ = ["StoreSeenDocIds", "make_handover"]


class StoreSeenDocIds:
    """The poller's memory of axis docIds, kept in the store of record (survives restarts)."""

    def __init__(self, store: Store, source: str = "axis") -> None:
        self._store = store
        self._source = source

    async def seen(self, doc_id: str) -> bool:
        return await self._store.inbound_seen(self._source, doc_id)

    async def remember(self, doc_id: str) -> None:
        # Stored packages were recorded with their message; this covers rejected ones.
        await self._store.record_inbound(
            self._source, doc_id, message_type="edoc", outcome="remembered"
        )


def _message_of(package: edxml.Package, ref: str, size: int) -> NewMessage:
    if isinstance(package, edxml.StatusPackage):
        return NewMessage(
            direction="in",
            document_id=package.response_for.document_id or "",
            sender=package.sender.organ_id,
            code=package.response_for.code or "",
            subject=package.description or "",
            message_type="status",
            status_code=package.status_code,
            package_ref=ref,
            package_size=size,
        )
    priority = package.other_info.priority if package.other_info else None
    return NewMessage(
        direction="in",
        document_id=package.document_id or edxml.document_id_of(package),
        sender=package.sender.organ_id,
        code=str(package.code),
        subject=package.subject,
        business_type=package.business.doc_type if package.business else 0,
        priority=priority or 0,
        due_date=package.due_date,
        package_ref=ref,
        package_size=size,
    )


def make_handover(store: Store, blobs: BlobStore, *, source: str = "axis") -> Handover:
    async def handover(item: ReceivedItem, data: bytes) -> None:
        try:
            package = edxml.parse(data)
        except edxml.EdxmlError as exc:
            raise HandoverRejected(f"unreadable package: {exc}") from None
        ref = await asyncio.to_thread(blobs.put, data)
        await store.accept(
            _message_of(package, ref, len(data)),
            [],
            source=source,
            deliver=False,
            inbound=(source, item.doc_id),
        )
        if isinstance(package, edxml.StatusPackage):
            await apply_status(store, package)

    return handover
