"""The axis poller's memory of what it has received, kept in the store of record.

Spec pitfall 13: the axis may list a docId again (a lost ``updateStatus``, a duplicate
delivery). The poller asks ``seen`` before handing a package to the inbound pipeline
(``gateway.inbound.pipeline.InboundPipeline.handover``) and ``remember``s what it refused, so a
restart does not hand anything over twice.
"""

from __future__ import annotations

from adapters.store.store import Store

__all__ = ["StoreSeenDocIds"]


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
