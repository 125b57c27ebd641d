"""The retry schedule, as data: how long a delivery waits after each failed attempt.

``delays`` are the waits after failure 1, 2, ... (``[30s, 2m, 10m, 30m, 2h, 6h]`` by
default); each is spread by ±``jitter`` so deliveries that failed together (an axis outage)
do not all come back in the same second. A wait the destination asks for (``Retry-After``)
replaces the schedule's for that failure and uses none of it. Past the last delay, or once
the message is older than ``max_age``, a transient failure is final: the delivery goes to
``failed`` with the reason, where an operator can requeue it.
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
    #: The longest ``Retry-After`` taken as asked (a longer one is cut to this).
    max_retry_after_seconds: float = Field(default=6 * 3600, gt=0)

    def next_attempt_at(
        self,
        step: int,
        *,
        created_at: dt.datetime,
        now: dt.datetime,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> dt.datetime | None:
        """When to try again after a failure that uses the schedule's ``step``-th delay;
        None when retries are over.

        ``retry_after`` is the wait the destination asked for (``Retry-After``, an announced
        outage or a throttle): it is honoured as asked — never earlier, spread a little
        later so that everything it stopped does not return in the same second — and it uses
        no step of the schedule, so a long announced outage cannot exhaust it. The
        maximum age still ends the retries.
        """
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self.max_retry_after_seconds)
            delay *= 1 + rng.uniform(0, self.jitter / 2)
        elif step > len(self.delays_seconds):
            return None
        else:
            delay = self.delays_seconds[step - 1]
            delay *= 1 + rng.uniform(-self.jitter, self.jitter)
        at = now + dt.timedelta(seconds=delay)
        if at - created_at > dt.timedelta(seconds=self.max_age_seconds):
            return None
        return at

    def exhausted_reason(self, attempt: int, step: int) -> str:
        if step > len(self.delays_seconds):
            return f"gave up after {attempt} attempts (the retry schedule is over)"
        return f"gave up after {attempt} attempts (older than {self.max_age_seconds:g} s)"
