"""``workers.probes``: the deployed workers probe a failing destination, or, switched off
(to compare, as the drain bench does), leave it to the trial deliveries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devtools.axis_simulator import AxisSimulator, FaultPlan
from gateway.config import AxisSettings, GatewaySettings, WorkerSettings
from gateway.delivery.retry import RetryPolicy
from gateway.runtime import Runtime
from tests.adapters.conftest import VECTOR_SECRET
from tests.gateway.flows import accept_numbered, until


@pytest.mark.parametrize("probes", [True, False])
async def test_the_workers_probe_only_when_asked(
    simulator: AxisSimulator, tmp_path: Path, probes: bool
) -> None:
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        axis=AxisSettings(
            base_url=simulator.url, system_id="00.42.W00", secret_env="AXIS_SECRET", poll=False
        ),
        signature_required=False,
        pdf_signature_policy="off",
        retry=RetryPolicy(delays_seconds=(0.3,) * 20, jitter=0.0),
        workers=WorkerSettings(circuit_failures=1, probes=probes),
    )
    simulator.faults.set(FaultPlan(error_rate=1.0))
    async with Runtime(settings, {"AXIS_SECRET": VECTOR_SECRET}) as runtime:
        store = runtime.store
        await accept_numbered(store, runtime.blobs, 1, ("000.00.00.G22",))
        stop = asyncio.Event()
        workers = asyncio.create_task(runtime.run_workers(stop))
        try:

            async def circuit_open() -> bool:
                return (await store.circuits()).get("axis", {}).get("state") == "open"

            await until(circuit_open, timeout=20)
            await asyncio.sleep(1.0)  # three first steps of the schedule
            simulator.faults.set(FaultPlan())

            async def sent() -> bool:
                return (await store.counts_by_state()) == {"sent": 1}

            await until(sent, timeout=20)
        finally:
            stop.set()
            await workers
        circuit = (await store.circuits())["axis"]
    assert (circuit["probed_at"] is not None) is probes
