"""Collecting what the axis holds for us: list → get → hand over → ``updateStatus``.

The same loop serves every inbox shaped like the axis' (an ``Inbox``): a provincial LGSP's
``/vanbans`` is listed, fetched and acknowledged the same way (``adapters.lgsp``).

The pattern every client uses (spec 3.3), made safe against the axis' redeliveries
(pitfall 13): an item stays in ``getReceivedEdocList`` until it is acknowledged, and may come
back even after that, so a ``docId`` already handed over is acknowledged again and never
handed over twice. What happens to each item:

==============================  ===============================================
outcome                         acknowledgement
==============================  ===============================================
handed over                     ``done``
handed over before (duplicate)  ``done``, not handed over again
``HandoverRejected``            ``fail`` (unreadable, not for us: it will not pass)
any other handover error        none: the item stays listed and is tried again
axis refuses ``getEdoc``        ``fail``
axis unreachable                none: the next poll tries again
==============================  ===============================================

The store of record (the delivery-engine issue) is the ``SeenDocIds`` of production;
``MemorySeenDocIds`` serves tests and the embedded demo.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from adapters.axis.types import AckStatus, MessageType, ReceivedItem
from adapters.errors import RemoteServiceError

__all__ = [
    "Handover",
    "HandoverRejected",
    "Inbox",
    "MemorySeenDocIds",
    "PollReport",
    "SeenDocIds",
    "poll_forever",
    "poll_once",
]

log = logging.getLogger(__name__)

Handover = Callable[[ReceivedItem, bytes], Awaitable[None]]
"""Store (or deliver) one received package; return only once it is safe to acknowledge."""


class HandoverRejected(Exception):
    """The package will never be accepted (unreadable, not for us): acknowledge it ``fail``."""


class Inbox(Protocol):
    """What the poller needs of a source: the axis client, an LGSP client."""

    async def received_list(self, message_type: MessageType = "edoc") -> list[ReceivedItem]: ...

    async def get_edoc(self, doc_id: str) -> bytes: ...

    async def update_status(self, doc_id: str, status: AckStatus) -> None: ...


class SeenDocIds(Protocol):
    """Which axis ``docId`` values were handed over already."""

    async def seen(self, doc_id: str) -> bool: ...

    async def remember(self, doc_id: str) -> None: ...


class MemorySeenDocIds:
    """The last ``capacity`` docIds, in memory (tests, the embedded demo)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    async def seen(self, doc_id: str) -> bool:
        return doc_id in self._ids

    async def remember(self, doc_id: str) -> None:
        self._ids[doc_id] = None
        self._ids.move_to_end(doc_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


@dataclass(slots=True)
class PollReport:
    handed_over: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # left listed for the next poll
    axis_errors: list[str] = field(default_factory=list)


async def _acknowledge(
    client: Inbox, item: ReceivedItem, status: Literal["done", "fail"], report: PollReport
) -> bool:
    try:
        await client.update_status(item.doc_id, status)
    except RemoteServiceError as exc:
        # Not acknowledged: it comes back, and the seen-set makes that harmless.
        report.axis_errors.append(str(exc))
        return False
    return True


async def _take(
    client: Inbox,
    item: ReceivedItem,
    handover: Handover,
    seen: SeenDocIds,
    report: PollReport,
) -> None:
    if await seen.seen(item.doc_id):
        if await _acknowledge(client, item, "done", report):
            report.duplicates.append(item.doc_id)
        return
    try:
        package = await client.get_edoc(item.doc_id)
    except RemoteServiceError as exc:
        if exc.transient:
            report.deferred.append(item.doc_id)
            report.axis_errors.append(str(exc))
            return
        log.warning("axis item %s cannot be fetched: %s", item.doc_id, exc)
        if await _acknowledge(client, item, "fail", report):
            report.rejected.append(item.doc_id)
        return
    try:
        await handover(item, package)
    except HandoverRejected as exc:
        log.warning("axis item %s rejected: %s", item.doc_id, exc)
        await seen.remember(item.doc_id)
        if await _acknowledge(client, item, "fail", report):
            report.rejected.append(item.doc_id)
        return
    except Exception as exc:  # our side failed (store down...): leave it listed
        log.warning("axis item %s not handed over, will retry: %s", item.doc_id, exc)
        report.deferred.append(item.doc_id)
        return
    await seen.remember(item.doc_id)
    report.handed_over.append(item.doc_id)
    await _acknowledge(client, item, "done", report)


async def poll_once(
    client: Inbox,
    handover: Handover,
    seen: SeenDocIds,
    *,
    message_types: Sequence[MessageType] = ("edoc", "status"),
) -> PollReport:
    """One pass over the received lists (documents, then status packages)."""
    report = PollReport()
    for message_type in message_types:
        try:
            items = await client.received_list(message_type)
        except RemoteServiceError as exc:
            if not exc.transient:
                raise
            report.axis_errors.append(str(exc))
            continue
        for item in items:
            await _take(client, item, handover, seen, report)
    return report


async def poll_forever(
    client: Inbox,
    handover: Handover,
    seen: SeenDocIds,
    *,
    interval_seconds: float,
    stop: asyncio.Event,
    on_report: Callable[[PollReport], Awaitable[None] | None] | None = None,
) -> None:
    """Poll every ``interval_seconds`` until ``stop`` is set; a failed pass never ends it.
    ``on_report`` hears of each pass (a coroutine is awaited; what it raises is logged)."""
    while not stop.is_set():
        try:
            report = await poll_once(client, handover, seen)
        except RemoteServiceError as exc:  # e.g. our credentials were revoked: say so, go on
            log.error("poll refused: %s", exc)
            report = PollReport(axis_errors=[str(exc)])
        if on_report is not None:
            try:
                told = on_report(report)
                if inspect.isawaitable(told):
                    await told
            except Exception:  # a heartbeat that cannot be written must not stop the poller
                log.exception("the poll report could not be recorded")
        try:
            await asyncio.wait_for(stop.wait(), interval_seconds)
        except TimeoutError:
            continue
