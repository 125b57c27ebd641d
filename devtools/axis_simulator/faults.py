"""Fault injection: what the simulated axis does instead of answering, per request.

Faults apply to the API (REST and SOAP), never to the admin endpoint that sets them. Each
maps to one failure the gateway's retry logic must classify (STYLE 9):

======================  ===============================  =====================
fault                   what the client sees             classification
======================  ===============================  =====================
``outage_seconds``      HTTP 503, "maintenance"          transient
``burst_5xx``           HTTP 503 for the next N calls    transient
``error_rate``          HTTP 500 with the FAIL envelope  transient
``throttle_rate``       HTTP 429                         transient
``timeout_rate``        no answer for ``hang_seconds``   transient (timeout)
``drop_rate``           connection closed, no answer     transient (network)
``late_answer_rate``    carried out, answered after      transient, in doubt
                        ``late_answer_seconds``          (look it up first)
``duplicate_rate``      an acknowledged item returns     (receivers dedupe)
======================  ===============================  =====================
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Callable

from devtools.axis_simulator.config import FaultPlan

__all__ = ["Fault", "FaultInjector"]


class Fault(enum.Enum):
    OUTAGE = "outage"
    BURST = "burst"
    ERROR = "error"
    THROTTLE = "throttle"
    TIMEOUT = "timeout"
    DROP = "drop"
    LATE = "late"


class FaultInjector:
    """Holds the current plan and draws each request's fault from it (seeded when asked)."""

    def __init__(self, plan: FaultPlan, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.set(plan)

    def set(self, plan: FaultPlan) -> None:
        """Replace the plan; the burst counter and outage window start again from now."""
        self.plan = plan
        self._rng = random.Random(plan.seed)  # noqa: S311 (faults, not secrets)
        self._burst_left = plan.burst_5xx
        self._outage_until = self._clock() + plan.outage_seconds if plan.outage_seconds else 0.0

    @property
    def outage_left(self) -> float:
        return max(0.0, self._outage_until - self._clock())

    @property
    def outage_retry_after(self) -> int:
        """The whole seconds ``Retry-After`` announces: rounded up, so a client that waits as
        asked comes back after the maintenance, never a fraction of a second before its end."""
        return max(1, math.ceil(self.outage_left))

    def duplicate_rate(self) -> float:
        return self.plan.duplicate_rate

    def draw(self) -> Fault | None:
        """The fault for one request, or None to answer normally."""
        if self.outage_left > 0:
            return Fault.OUTAGE
        if self._burst_left > 0:
            self._burst_left -= 1
            return Fault.BURST
        plan = self.plan
        roll = self._rng.random()
        for fault, rate in (
            (Fault.ERROR, plan.error_rate),
            (Fault.THROTTLE, plan.throttle_rate),
            (Fault.TIMEOUT, plan.timeout_rate),
            (Fault.DROP, plan.drop_rate),
            (Fault.LATE, plan.late_answer_rate),
        ):
            if roll < rate:
                return fault
            roll -= rate
        return None

    def snapshot(self) -> dict[str, object]:
        return {
            **self.plan.model_dump(),
            "burst_left": self._burst_left,
            "outage_left_seconds": round(self.outage_left, 3),
        }
