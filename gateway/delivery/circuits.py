"""Circuit breakers, one per destination: a destination that keeps failing is not sent to
until a probe shows it answers again.

After ``failures_to_open`` transient failures in a row (network, timeout, 5xx — a
recipient's refusal does not count: it says nothing of the destination), the circuit
*opens*: attempts towards it wait without calling it, and the dispatcher's recovery watch
probes it with one cheap call at a time (the axis: an authenticated count; a SOAP hub: its
pending list), and lets one attempt through as a trial every ``trial_seconds`` (the retry
schedule's first step: a destination that cannot be probed is tried that way). The first
probe it answers, or a success, *closes* it, and every waiting delivery becomes due at
once, within the connection budget. Each change is written to the
store, where the dashboard shows it beside the last probe and its answer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from adapters.store.store import Store, utc_now

__all__ = ["Circuits"]

log = logging.getLogger(__name__)


class Circuits:
    def __init__(
        self,
        store: Store,
        *,
        failures_to_open: int = 5,
        trial_seconds: float = 30.0,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._store = store
        self._limit = failures_to_open
        self._trial = dt.timedelta(seconds=trial_seconds)
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._opened: dict[str, dt.datetime] = {}
        self._last_trial: dict[str, dt.datetime] = {}

    def is_open(self, route: str) -> bool:
        return route in self._opened

    def wait_before(self, route: str) -> float | None:
        """None: an attempt towards ``route`` may go now (closed, or this is the open
        circuit's trial); otherwise the seconds until its next trial."""
        if route not in self._opened:
            return None
        now = self._clock()
        due = self._last_trial.get(route, self._opened[route]) + self._trial
        if now >= due:
            self._last_trial[route] = now  # this attempt is the trial; the others wait
            return None
        return (due - now).total_seconds()

    async def failed(self, route: str, error: str) -> None:
        """A transient failure towards ``route``; the one that reaches the limit opens it."""
        failures = self._failures[route] = self._failures.get(route, 0) + 1
        if failures >= self._limit and route not in self._opened:
            now = self._opened[route] = self._clock()
            log.warning("%s: circuit open after %d failures in a row (%s)", route, failures, error)
            await self._store.save_circuit(route, state="open", failures=failures, opened_at=now)

    async def succeeded(self, route: str) -> None:
        """A delivery went through: the failures in a row end, an open circuit closes."""
        was_open = self._opened.pop(route, None) is not None
        self._last_trial.pop(route, None)
        if self._failures.pop(route, 0) or was_open:
            await self._store.save_circuit(route, state="closed", failures=0, opened_at=None)

    async def probed(self, route: str, *, ok: bool, answer: str) -> None:
        """What a probe found; one it answered closes the circuit."""
        values: dict[str, object] = {
            "probed_at": self._clock(),
            "probe_ok": ok,
            "probe_answer": answer[:500],
        }
        if ok:
            self._opened.pop(route, None)
            self._failures.pop(route, None)
            self._last_trial.pop(route, None)
            values.update(state="closed", failures=0, opened_at=None)
        await self._store.save_circuit(route, **values)
