"""Worker processes on the real servers: a SIGKILL mid-batch, and scaling out.

Each test gets its own PostgreSQL schema, RabbitMQ prefix and Redis prefix; the simulated
axis runs in the test process, the workers are ``edxml-gateway worker`` subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import yaml

import edxml
from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker, AmqpSettings
from adapters.store.engine import create_engine, migrate
from adapters.store.store import NewDelivery, NewMessage, Store
from devtools.axis_simulator import AxisSimulator, FaultPlan
from tests.backends import POSTGRES_URL, drop_backend, open_backend
from tests.factories import document, organization

from .test_queue import AMQP_URL

REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RECIPIENTS = ("000.00.00.G22", "000.00.11.H53", "28.22.H17", "000.00.00.H42")
ROOT = Path(__file__).resolve().parents[2]


class Deployment:
    def __init__(self, config: Path, store: Store, blobs: BlobStore, env: dict[str, str]) -> None:
        self.config, self.store, self.blobs, self.env = config, store, blobs, env
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []

    async def start(self, command: str = "worker", *extra: str) -> asyncio.subprocess.Process:
        log = self.config.parent / f"{command}-{len(self.processes)}.log"
        self.logs.append(log)
        with log.open("wb") as output:  # the child keeps its own descriptor
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.cli", command, "--config", str(self.config), *extra,
                cwd=ROOT, env=self.env, stdout=output, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        return process

    async def accept(self, messages: int) -> None:
        for number in range(messages):
            package = document(
                recipients=tuple(organization(r) for r in RECIPIENTS),
                document_id=f"000.00.01.H42,2026/11/25,{number + 1}/UBND-VP",
                code=edxml.Code(number=str(number + 1), notation="UBND-VP"),
            )
            data = edxml.build(package)
            await self.store.accept(
                NewMessage(
                    direction="out",
                    document_id=package.document_id or "",
                    sender="000.00.01.H42",
                    code=str(package.code),
                    subject=package.subject,
                    package_ref=self.blobs.put(data),
                    package_size=len(data),
                ),
                [NewDelivery(r, "axis") for r in RECIPIENTS],
            )

    async def stop_all(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())


@pytest.fixture
async def deployment(simulator: AxisSimulator, tmp_path: Path) -> AsyncIterator[Deployment]:
    url, schema = await open_backend("postgresql", tmp_path)
    engine = create_engine(url, schema=schema)
    await migrate(engine)
    store = Store(engine)
    prefix = f"edxml-test-{uuid.uuid4().hex[:8]}"
    settings = {
        "data_dir": str(tmp_path / "data"),
        "database_url": POSTGRES_URL,
        "database_schema": schema,
        "broker_url": AMQP_URL,
        "broker_prefix": prefix,
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
        "axis": {"base_url": simulator.url, "system_id": "00.42.W00", "poll_interval_seconds": 0.2},
        "retry": {"delays_seconds": [0.2, 0.5, 1, 2, 4, 8], "jitter": 0.1},
        "workers": {"lease_seconds": 3, "concurrency": 10, "limit_per_destination": 10},
    }
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "EDXML_AXIS_SECRET": "test-secret-for-vectors"}
    opened = Deployment(config, store, BlobStore(tmp_path / "data" / "blobs"), env)
    try:
        yield opened
    finally:
        await opened.stop_all()
        await store.close()
        await drop_backend(url, schema)
        async with AmqpBroker(AmqpSettings(url=AMQP_URL, prefix=prefix)) as broker:
            await broker.delete_all()


async def _until(
    condition: Callable[[], Awaitable[bool]], timeout: float, why: Callable[[], str]
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not in {timeout} s: {why()}")
        await asyncio.sleep(0.1)


async def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    deployment: Deployment, simulator: AxisSimulator
) -> None:
    simulator.faults.set(FaultPlan(latency_ms=30))  # requests are in flight when it dies
    await deployment.accept(50)  # 200 deliveries
    first = await deployment.start()

    async def some_sent() -> bool:
        return (await deployment.store.counts_by_state()).get("sent", 0) >= 30

    await _until(some_sent, 60, deployment.log_text)
    first.kill()  # SIGKILL: no cleanup, leases and unacknowledged messages left behind
    await first.wait()
    counts_at_kill = await deployment.store.counts_by_state()
    await deployment.start()

    async def all_sent() -> bool:
        return await deployment.store.counts_by_state() == {"sent": 200}

    await _until(all_sent, 90, lambda: f"{deployment.store} {deployment.log_text()[-3000:]}")
    assert counts_at_kill.get("sent", 0) < 200
    # exactly once at the axis: one copy per (message, recipient)
    assert simulator.hub.summary()["deliveries"] == 200


async def test_two_workers_and_serve_share_the_work_and_spread_the_singleton_jobs(
    deployment: Deployment, simulator: AxisSimulator
) -> None:
    await deployment.accept(125)  # 500 deliveries
    for command in ("worker", "worker", "serve"):
        await deployment.start(command, *(("--port", "0") if command == "serve" else ()))

    async def all_sent() -> bool:
        return await deployment.store.counts_by_state() == {"sent": 500}

    await _until(all_sent, 120, lambda: deployment.log_text()[-3000:])
    assert simulator.hub.summary()["deliveries"] == 500

    async def spread() -> bool:  # each job in one process, the jobs in all three
        holders = _lock_holders(deployment.logs)
        return all(len(processes) == 1 for processes in holders.values()) and (
            len(set().union(*holders.values())) == 3
        )

    await _until(spread, 30, lambda: str(_lock_holders(deployment.logs)))
    assert {"poller", "relay", "webhooks", "evidence"} <= set(_lock_holders(deployment.logs))
    await deployment.stop_all()
    text = deployment.log_text()
    assert "was lost" not in text
    for job in ("poller", "relay"):  # one at a time: a job moves only when handed over
        handed_over = text.count(f":lock:{job}: handed over")
        assert text.count(f":lock:{job} acquired") == 1 + handed_over, text[-3000:]


def _lock_holders(logs: list[Path]) -> dict[str, set[int]]:
    """Which processes hold each leader lock, by what their logs say so far."""
    holders: dict[str, set[int]] = {}
    for number, log in enumerate(logs):
        for line in log.read_text(errors="replace").splitlines():
            found = re.search(r":lock:([\w-]+)(:? handed over| acquired)", line)
            if found:
                processes = holders.setdefault(found[1], set())
                if "acquired" in found[2]:
                    processes.add(number)
                else:
                    processes.discard(number)
    return holders
