"""The store of record's operations: what the API, the workers and the dashboard do to it.

Every change of a delivery's state is one conditional UPDATE (``WHERE state = <expected>``)
plus one appended event, in one transaction: two workers, a late status and an operator can
race, and exactly one of them wins each move, which the state machine allowed
(``gateway.delivery.states`` is consulted by the callers; the store enforces the expected
current state). Claims and results carry the attempt number as a fencing token: a worker
whose lease expired cannot record the outcome of an attempt another worker has taken over.

The operations live by aggregate: ``messages``, ``deliveries``, ``outbox``, ``requests``,
``inbound_items``, ``clerk``, ``accounts``, ``reads`` (dashboard, reports, alerts); ``Store`` is all
of them over one engine.
"""

from __future__ import annotations

from adapters.store.accounts import AccountStore
from adapters.store.api_reads import ApiReads
from adapters.store.circuits import CircuitStore
from adapters.store.clerk import ClerkStore
from adapters.store.dashboard import DashboardReads
from adapters.store.deliveries import DeliveryStore
from adapters.store.delivery_moves import DeliveryMoves
from adapters.store.directory import DirectoryStore
from adapters.store.evidence import EvidenceStore
from adapters.store.heartbeats import Heartbeats
from adapters.store.inbound_items import InboundStore
from adapters.store.messages import MessageStore
from adapters.store.metrics import MetricReads
from adapters.store.outbox import OutboxStore
from adapters.store.records import (
    FAIR_SHARE,
    AttemptOutcome,
    Claim,
    ConcurrentChange,
    DeliveryJob,
    DeliveryView,
    DuplicateMessage,
    EventView,
    MessageView,
    NewDelivery,
    NewMessage,
    OutboxRow,
    StateChange,
    StatusAnswer,
    StoreError,
    queue_lane,
    utc_now,
)
from adapters.store.report_reads import ReportReads
from adapters.store.requests import RequestStore
from adapters.store.retention import RetentionStore
from adapters.store.webhook_log import WebhookAttempt, WebhookLog

__all__ = [
    "FAIR_SHARE",
    "AttemptOutcome",
    "Claim",
    "ConcurrentChange",
    "DeliveryJob",
    "DeliveryView",
    "DuplicateMessage",
    "EventView",
    "MessageView",
    "NewDelivery",
    "NewMessage",
    "OutboxRow",
    "StateChange",
    "StatusAnswer",
    "Store",
    "StoreError",
    "WebhookAttempt",
    "queue_lane",
    "utc_now",
]


class Store(
    MessageStore,
    DeliveryStore,
    DeliveryMoves,
    OutboxStore,
    RequestStore,
    InboundStore,
    ClerkStore,
    AccountStore,
    DashboardReads,
    ApiReads,
    MetricReads,
    ReportReads,
    DirectoryStore,
    RetentionStore,
    WebhookLog,
    Heartbeats,
    EvidenceStore,
    CircuitStore,
):
    """The gateway's store of record over an async engine (SQLite or PostgreSQL)."""
