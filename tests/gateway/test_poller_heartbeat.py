"""A stalled axis poller is told: each pass beats in the store (whichever process polls),
and an alert is raised when no pass has worked for ``poller_stalled_seconds``."""

from __future__ import annotations

import asyncio

from adapters.axis.poller import MemorySeenDocIds, poll_forever
from adapters.store.store import Store
from devtools.axis_simulator import AxisSimulator
from gateway.config import AlertSettings
from gateway.operate.alerts import evaluate
from gateway.signing import Signers
from tests.adapters.conftest import client_for
from tests.backends import Clock


async def test_the_poller_beats_and_a_stall_is_an_alert(
    store: Store, clock: Clock, simulator: AxisSimulator
) -> None:
    stop = asyncio.Event()

    async def handover(*_: object) -> None:
        return None

    async with client_for(simulator, "00.42.W00") as axis:
        polling = asyncio.create_task(
            poll_forever(
                axis,
                handover,  # type: ignore[arg-type]
                MemorySeenDocIds(),
                interval_seconds=0.05,
                stop=stop,
                on_report=lambda report: store.beat(
                    "poller", error="; ".join(report.axis_errors) or None
                ),
            )
        )
        await asyncio.sleep(0.2)
        stop.set()
        await polling
    settings = AlertSettings(poller_stalled_seconds=600)
    assert await store.stalled("poller", clock(), 600) is None
    assert not [
        c for c in await evaluate(store, Signers(), settings, clock()) if c.kind == "poller"
    ]
    clock.advance(700)  # no pass since
    await store.beat("poller", error="axis: HTTP 503")
    raised = [c for c in await evaluate(store, Signers(), settings, clock()) if c.kind == "poller"]
    assert len(raised) == 1
    assert "HTTP 503" in raised[0].text("vi")
    await store.beat("poller")  # it works again
    resolved = await evaluate(store, Signers(), settings, clock())
    assert [c.change for c in resolved if c.kind == "poller"] == ["resolved"]
