"""Status packages about our outgoing documents move their deliveries (docs/architecture.md).

A status package names the document (``ResponseFor/DocumentId``) and is reported by the
recipient (``From``); together they pick the delivery. The move happens only when the state
machine allows it, so a duplicate or late status (05 after 06, a second 01) changes nothing.
Each accepted move is one event whose source is ``status:<code>`` and whose detail is the
package's description.

15 and 16 answer a change request. 15 after our recall (13) puts the delivery in
``recalled``; 15 to an update or replacement, and every 16, change no state and are written
on the delivery's timeline, so the clerk sees the answer (spec 2.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import edxml
from adapters.store.store import Store
from gateway.delivery.states import RECALL_SOURCE, DeliveryState, can_move, state_for_status

__all__ = ["StatusApplied", "apply_status"]

#: The source of the event that marks a recall request on a delivery (gateway.outbound.operations).
_ANSWERS = {"15": "the recipient agreed", "16": "the recipient refused"}


@dataclass(frozen=True, slots=True)
class StatusApplied:
    moved: tuple[str, ...]  # delivery ids that changed state
    ignored: tuple[str, ...]  # matched, but the status would move them backwards
    matched: bool  # False: no outgoing delivery of ours fits this status
    noted: tuple[str, ...] = ()  # matched and written on the timeline without a move


async def _move(
    store: Store, delivery_id: str, state: str, target: DeliveryState, status: edxml.StatusPackage
) -> bool | None:
    """True: moved; False: not allowed; None: the delivery is gone."""
    current = DeliveryState(state)
    for _ in range(3):  # the state may change under us (the dispatcher, another status)
        if not can_move(current, target):
            return False
        if await store.move(
            delivery_id,
            current,
            target,
            source=f"status:{status.status_code}",
            detail=status.description,
            status_code=status.status_code,
        ):
            return True
        now = await store.state_of(delivery_id)
        if now is None:
            return None
        current = DeliveryState(now)
    return False


async def apply_status(store: Store, status: edxml.StatusPackage) -> StatusApplied:
    code = status.status_code
    document_id = status.response_for.document_id or ""
    matches = await store.deliveries_for_status(document_id, status.sender.organ_id)
    moved: list[str] = []
    ignored: list[str] = []
    noted: list[str] = []
    for delivery_id, state in matches:
        target = state_for_status(code)
        if code == "15" and not await store.has_event(delivery_id, RECALL_SOURCE):
            target = None  # it answers an update or a replacement, not a recall
        if target is None:
            answer = _ANSWERS.get(code, f"status {code}")
            detail = f"{answer}: {status.description}" if status.description else answer
            await store.note(delivery_id, source=f"status:{code}", detail=detail)
            noted.append(delivery_id)
            continue
        outcome = await _move(store, delivery_id, state, target, status)
        if outcome:
            moved.append(delivery_id)
        elif outcome is False:
            ignored.append(delivery_id)
    return StatusApplied(tuple(moved), tuple(ignored), bool(matches), tuple(noted))
