"""The retry schedule, as data: how long a delivery waits after each failed attempt.

``delays`` are the waits after attempt 1, 2, ... (``[30s, 2m, 10m, 30m, 2h, 6h]`` by
default); each is spread by ±``jitter`` so deliveries that failed together (an axis outage)
do not all come back in the same second. Past the last delay, or once the message is older
than ``max_age``, a transient failure is final: the delivery goes to ``failed`` with the
reason, where an operator can requeue it.
"""

from __future__ import annotations

import datetime as dt
import random

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetryPolicy"]


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    delays_seconds: tuple[float, ...] = Field(
        default=(30, 120, 600, 1800, 7200, 21600), min_length=1
    )
    jitter: float = Field(default=0.2, ge=0, lt=1)
    max_age_seconds: float = Field(default=3 * 24 * 3600, gt=0)

    def next_attempt_at(
        self,
        attempt: int,
        *,
        created_at: dt.datetime,
        now: dt.datetime,
        rng: random.Random,
    ) -> dt.datetime | None:
        """When to try again after attempt ``attempt`` failed; None when retries are over."""
        if attempt > len(self.delays_seconds):
            return None
        delay = self.delays_seconds[attempt - 1]
        delay *= 1 + rng.uniform(-self.jitter, self.jitter)
        at = now + dt.timedelta(seconds=delay)
        if at - created_at > dt.timedelta(seconds=self.max_age_seconds):
            return None
        return at

    def exhausted_reason(self, attempt: int) -> str:
        if attempt > len(self.delays_seconds):
            return f"gave up after {attempt} attempts (the retry schedule is over)"
        return f"gave up after {attempt} attempts (older than {self.max_age_seconds:g} s)"
