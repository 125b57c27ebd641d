"""Failed logins counted where they come from, so that guessing is slowed and nobody can lock
a clerk out from elsewhere.

Three counters, each over a sliding quarter of an hour:

* one account from one address: after 5 failures that pair waits 15 minutes — the clerk at
  her own desk is not affected by someone guessing her password from another address;
* one address, whatever the accounts: after 20 failures it waits 15 minutes (one machine
  trying many names);
* one account, whatever the addresses: the store's lockout after 50 (many machines trying
  one name), the last resort.

The counters live in the process (each ``serve`` process counts its own); they say nothing
of whether an account exists, and neither do the messages built on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["PAIR_LIMIT", "WINDOW", "LoginThrottle"]

PAIR_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = dt.timedelta(minutes=15)


@dataclass
class _Count:
    failures: int = 0
    since: dt.datetime | None = None
    blocked_until: dt.datetime | None = None


@dataclass
class LoginThrottle:
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    _counts: dict[tuple[str, str], _Count] = field(default_factory=dict)

    def blocked(self, username: str, address: str) -> str | None:
        """Why a login from ``address`` as ``username`` must wait, or None."""
        now = self.clock()
        for key, reason in (
            (("address", address), "address"),
            (("pair", f"{username}\0{address}"), "pair"),
        ):
            count = self._counts.get(key)
            if count and count.blocked_until and count.blocked_until > now:
                return reason
        return None

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        for key, limit in (
            (("address", address), ADDRESS_LIMIT),
            (("pair", f"{username}\0{address}"), PAIR_LIMIT),
        ):
            count = self._counts.setdefault(key, _Count())
            if count.since is None or now - count.since > WINDOW:
                count.failures, count.since = 0, now
            count.failures += 1
            if count.failures >= limit:
                count.blocked_until, count.failures, count.since = now + WINDOW, 0, None
        if len(self._counts) > 100_000:  # an attack from many addresses: forget the old
            self._forget(now)

    def succeeded(self, username: str, address: str) -> None:
        self._counts.pop(("pair", f"{username}\0{address}"), None)

    def _forget(self, now: dt.datetime) -> None:
        for key, count in list(self._counts.items()):
            if not (count.blocked_until and count.blocked_until > now):
                del self._counts[key]
