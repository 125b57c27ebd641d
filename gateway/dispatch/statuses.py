"""Status packages about our outgoing documents move their deliveries (DESIGN.md).

A status package names the document (``ResponseFor/DocumentId``) and is reported by the
recipient (``From``); together they pick the delivery. The move happens only when the state
machine allows it, so a duplicate or late status (05 after 06, a second 01) changes nothing.
Each accepted move is one event whose source is ``status:<code>`` and whose detail is the
package's description.
"""

from __future__ import annotations

from dataclasses import dataclass

import edxml
from adapters.store.store import Store

from .states import DeliveryState, can_move, state_for_status

__all__ = ["StatusApplied", "apply_status"]


@dataclass(frozen=True, slots=True)
class StatusApplied:
    moved: tuple[str, ...]  # delivery ids that changed state
    ignored: tuple[str, ...]  # matched, but the status would move them backwards
    matched: bool  # False: no outgoing delivery of ours fits this status


async def apply_status(store: Store, status: edxml.StatusPackage) -> StatusApplied:
    target = state_for_status(status.status_code)
    document_id = status.response_for.document_id or ""
    reporter = status.sender.organ_id
    matches = await store.deliveries_for_status(document_id, reporter)
    if target is None:
        return StatusApplied((), tuple(d for d, _ in matches), bool(matches))
    moved: list[str] = []
    ignored: list[str] = []
    for delivery_id, state in matches:
        current = DeliveryState(state)
        for _ in range(3):  # the state may change under us (the dispatcher, another status)
            if not can_move(current, target):
                ignored.append(delivery_id)
                break
            if await store.move(
                delivery_id,
                current,
                target,
                source=f"status:{status.status_code}",
                detail=status.description,
                status_code=status.status_code,
            ):
                moved.append(delivery_id)
                break
            now = await store.state_of(delivery_id)
            if now is None:
                break
            current = DeliveryState(now)
    return StatusApplied(tuple(moved), tuple(ignored), bool(matches))
