"""After an outage: every delivery that failed towards one destination since a moment goes
back in the queue, in one operator action (the CLI, the API, the dashboard), audited.

Those the destination refused for good (an unknown recipient) stay failed unless the
operator says their cause was corrected: an outage did not cause them, and sending them as
they are would only fail again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from adapters.store.store import Store
from edxml import VIETNAM

__all__ = ["requeue_since", "since_time"]


def since_time(text: str) -> dt.datetime:
    """A moment as an operator writes it (ISO 8601), Vietnam time when it names no offset;
    ``ValueError`` when it is not one."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)


async def requeue_since(
    store: Store,
    route: str,
    since: dt.datetime,
    *,
    by: str,
    source: str,
    agencies: Sequence[str] | None = None,
    corrected: bool = False,
    wake: asyncio.Event | None = None,
) -> list[str]:
    """Requeue the failures towards ``route`` since ``since`` (of ``agencies``' documents,
    when given); returns the deliveries requeued. One audit entry says what was asked."""
    found = await store.failed_since(route, since, agencies=agencies, permanent_too=corrected)
    requeued = [d for d in found if await store.requeue(d, source=source, permanent_too=corrected)]
    detail = f"{route} since {since.isoformat()}: {len(requeued)}" + (
        ", corrected" if corrected else ""
    )
    await store.audit(by, "delivery.requeue", route, detail)
    if wake is not None and requeued:
        wake.set()
    return requeued
