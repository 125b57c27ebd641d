"""The states of one delivery (one recipient of one message) and the moves between them.

The delivery state machine (docs/architecture.md), enforced here so every writer obeys it
(Điều 14.3a: the sender's clerk must know, per recipient, where the document is)::

    queued -> sending -> sent -> arrived(01) -> accepted(03) | rejected(02)
           -> assigned(04) -> processing(05) -> done(06)
    sending -> retry_wait -> sending ...        sending | retry_wait -> failed
    failed -> queued (requeue)                  sent.. -> recalled (15 after our 13)

Receivers' statuses are **monotonic**: a duplicate or late status never moves a delivery
backwards (05 arriving after 06 changes nothing), but a status may skip ahead (06 without
03 first). Delivery states (queued, sending, retry_wait, failed) are the dispatcher's own.
"""

from __future__ import annotations

import enum

__all__ = [
    "RECALL_SOURCE",
    "STATUS_STATES",
    "DeliveryState",
    "can_move",
    "reported_status_may_follow",
    "state_for_status",
]

#: The timeline source of an operator's recall: a later 15 is its answer, not news.
RECALL_SOURCE = "operator:recall"


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    SENT = "sent"
    ARRIVED = "arrived"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    PROCESSING = "processing"
    DONE = "done"
    RECALLED = "recalled"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def delivered(self) -> bool:
        """The destination took it: the dispatcher has nothing more to do."""
        return self.rank >= _RANK[DeliveryState.SENT]


_RANK = {
    DeliveryState.QUEUED: 0,
    DeliveryState.SENDING: 1,
    DeliveryState.RETRY_WAIT: 1,
    DeliveryState.FAILED: 1,
    DeliveryState.SENT: 2,
    DeliveryState.ARRIVED: 3,
    DeliveryState.REJECTED: 4,
    DeliveryState.ACCEPTED: 4,
    DeliveryState.ASSIGNED: 5,
    DeliveryState.PROCESSING: 6,
    DeliveryState.DONE: 7,
    DeliveryState.RECALLED: 8,
}

#: edXML status codes (spec 2.1) reported by a recipient -> the state they put a delivery in.
STATUS_STATES = {
    "01": DeliveryState.ARRIVED,
    "02": DeliveryState.REJECTED,
    "03": DeliveryState.ACCEPTED,
    "04": DeliveryState.ASSIGNED,
    "05": DeliveryState.PROCESSING,
    "06": DeliveryState.DONE,
    "15": DeliveryState.RECALLED,  # the recipient agreed to our recall (13)
}

_DISPATCH_MOVES = {
    DeliveryState.QUEUED: {DeliveryState.SENDING, DeliveryState.FAILED},
    DeliveryState.SENDING: {
        DeliveryState.SENT,
        DeliveryState.RETRY_WAIT,
        DeliveryState.FAILED,
        DeliveryState.SENDING,  # a lease expired and another worker took it over
    },
    DeliveryState.RETRY_WAIT: {DeliveryState.SENDING, DeliveryState.FAILED, DeliveryState.QUEUED},
    DeliveryState.FAILED: {DeliveryState.QUEUED},
}


def state_for_status(code: str) -> DeliveryState | None:
    return STATUS_STATES.get(code)


def can_move(current: DeliveryState, target: DeliveryState) -> bool:
    """Whether ``current -> target`` is allowed (dispatcher moves, or a forward status)."""
    if target in _DISPATCH_MOVES.get(current, set()):
        return True
    if target.rank <= DeliveryState.SENT.rank and target is not DeliveryState.SENT:
        return False
    if current is DeliveryState.REJECTED or current is DeliveryState.RECALLED:
        return False  # final: 02 ends the exchange, 15 the recall
    if target is DeliveryState.RECALLED:
        return current.delivered
    if target is DeliveryState.SENT:
        return current in (DeliveryState.SENDING,)
    # A receiver's status: forward only, and only once the destination has it (a status may
    # overtake our own "sent" record: the axis answered, then the worker died before writing).
    return target.rank > current.rank


#: Statuses that may be reported again at the same stage: a new assignment (04), a further
#: progress report (05).
_REPEATABLE = frozenset({"04", "05"})


def reported_status_may_follow(previous: str | None, code: str) -> bool:
    """Whether we may report ``code`` about a document we received after ``previous``.

    The statuses of one received document go forward as its recipients' deliveries do
    (01 -> 02 | 03 -> 04 -> 05 -> 06): never backwards, 02 ends the exchange, and only 04
    and 05 may be repeated. Answers to requests (13, 15, 16) are not steps of this order.
    """
    target = STATUS_STATES.get(code)
    if code == "15" or target is None or previous is None:
        return True
    current = STATUS_STATES.get(previous)
    if current is None:
        return True
    if current is DeliveryState.REJECTED:
        return False
    if target.rank == current.rank:
        return code == previous and code in _REPEATABLE
    return target.rank > current.rank
