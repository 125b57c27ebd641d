"""Benchmark of the delivery engine (issue 5): accepted -> ``sent``, end to end on loopback.

1,000 small packages (one recipient each) are accepted into the store by 8 concurrent
producers (as API requests would), while one worker process's worth of machinery delivers
them to the axis simulator (its own process, as in production). Two deployments:

* servers: PostgreSQL + RabbitMQ (outbox relay, consumer) — target >= 200 packages/s;
* embedded: SQLite + the store's due rows as the queue — target >= 100 packages/s.

Figures: throughput (deliveries per second from the first acceptance to the last ``sent``)
and the p50/p99 time from acceptance to ``sent``, read from each delivery's events. The
in-run floor is the simulator's own rate for the same packages sent straight by the client
(``axis_bench``), so ``..._vs_direct`` says what the engine costs on top.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from adapters.axis.client import AxisClient, AxisConfig  # noqa: E402
from adapters.blobs import BlobStore  # noqa: E402
from adapters.broker.amqp import AmqpBroker, AmqpSettings  # noqa: E402
from adapters.store.engine import create_engine, migrate  # noqa: E402
from adapters.store.schema import delivery_events  # noqa: E402
from adapters.store.store import NewDelivery, NewMessage, Store  # noqa: E402
from gateway.delivery.destinations import AxisDestination  # noqa: E402
from gateway.delivery.dispatcher import Dispatcher  # noqa: E402
from gateway.delivery.embedded import run_embedded  # noqa: E402
from gateway.delivery.queue import relay_outbox, work_handler  # noqa: E402

PACKAGES = 1000
PRODUCERS = 8  # concurrent API requests accepting packages
POSTGRES_URL = os.environ.get(
    "EDXML_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
AMQP_URL = os.environ.get("EDXML_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"

sys.path.insert(0, str(ROOT / "bench"))
from axis_bench import _small_package  # noqa: E402


async def _latency_by_delivery(store: Store) -> dict[str, float]:
    """Seconds from queued to sent, per delivery, from the event log."""
    queued = sa.select(delivery_events.c.delivery_id, delivery_events.c.at).where(
        delivery_events.c.to_state == "queued"
    )
    sent = sa.select(delivery_events.c.delivery_id, delivery_events.c.at).where(
        delivery_events.c.to_state == "sent"
    )
    async with store.engine.connect() as connection:
        start = {row[0]: row[1] for row in await connection.execute(queued)}
        end = {row[0]: row[1] for row in await connection.execute(sent)}
    return {d: (end[d] - start[d]).total_seconds() for d in end if d in start}


async def _latencies(store: Store) -> list[float]:
    return list((await _latency_by_delivery(store)).values())


async def _drive(store: Store, blobs: BlobStore, url: str, workers: object) -> dict[str, float]:
    package = _small_package()
    ref = blobs.put(package)
    config = AxisConfig(base_url=url, system_id="00.42.W00", secret="demo-secret-ninh-binh")
    async with AxisClient(config) as axis:
        dispatcher = Dispatcher(
            store, blobs, {"axis": AxisDestination(axis)}, limit_per_destination=10
        )
        stop = asyncio.Event()
        running = [asyncio.create_task(task) for task in workers(dispatcher, stop)]  # type: ignore[operator]
        producers = asyncio.Semaphore(PRODUCERS)

        async def accept(number: int) -> None:
            async with producers:
                await store.accept(
                    NewMessage(
                        direction="out",
                        document_id=f"{OFFICE},2026/11/25,{number}/UBND-VP",
                        sender=OFFICE,
                        code=f"{number}/UBND-VP",
                        package_ref=ref,
                        package_size=len(package),
                    ),
                    [NewDelivery(VPCP, "axis")],
                )

        start = time.perf_counter()
        await asyncio.gather(*(accept(number) for number in range(PACKAGES)))
        accepted = time.perf_counter() - start
        while (await store.counts_by_state()).get("sent", 0) < PACKAGES:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        stop.set()
        await asyncio.gather(*running)
    latencies = sorted(await _latencies(store))
    return {
        "per_s": PACKAGES / elapsed,
        "accept_per_s": PACKAGES / accepted,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def _servers(url: str, tmp: Path) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, schema=schema, pool_size=20)
    await migrate(engine)
    store = Store(engine)
    broker = AmqpBroker(AmqpSettings(url=AMQP_URL, prefix=f"edxml-bench-{schema}", prefetch=50))
    await broker.connect()

    def workers(dispatcher: Dispatcher, stop: asyncio.Event) -> list[object]:
        return [
            relay_outbox(store, broker, stop=stop, idle_seconds=0.01),
            broker.run_consumer(work_handler(dispatcher), stop=stop),
        ]

    try:
        return await _drive(store, BlobStore(tmp / "servers"), url, workers)
    finally:
        await broker.delete_all()
        await broker.close()
        await store.close()
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def _embedded(url: str, tmp: Path) -> dict[str, float]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await migrate(engine)
    store = Store(engine, outbox=False)

    def workers(dispatcher: Dispatcher, stop: asyncio.Event) -> list[object]:
        return [run_embedded(dispatcher, stop=stop, idle_seconds=0.01, concurrency=20)]

    try:
        return await _drive(store, BlobStore(tmp / "embedded"), url, workers)
    finally:
        await store.close()


async def _direct(url: str) -> float:
    package = _small_package()
    config = AxisConfig(base_url=url, system_id="00.42.W00", secret="demo-secret-ninh-binh")
    semaphore = asyncio.Semaphore(10)
    async with AxisClient(config) as axis:

        async def one() -> None:
            async with semaphore:
                await axis.send_edoc(package, sender=OFFICE)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(PACKAGES)))
        return PACKAGES / (time.perf_counter() - start)


def run() -> list[tuple[str, float, str]]:
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, measure in (("servers", _servers), ("embedded", _embedded)):
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "simulate-axis", "--port", "0"],
                cwd=ROOT, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                assert process.stdout is not None
                url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
                direct = asyncio.run(_direct(url))
                result = asyncio.run(measure(url, Path(folder)))
            finally:
                process.terminate()
                process.wait(timeout=30)
            figures += [
                (f"delivery_{name}_per_s", round(result["per_s"], 1), "packages/s accepted->sent"),
                (f"delivery_{name}_p50_ms", round(result["p50_ms"], 1), "ms accepted->sent"),
                (f"delivery_{name}_p99_ms", round(result["p99_ms"], 1), "ms accepted->sent"),
                (
                    f"delivery_{name}_accept_per_s",
                    round(result["accept_per_s"], 1),
                    "packages/s stored",
                ),
                (f"delivery_{name}_direct_per_s", round(direct, 1), "packages/s client->simulator"),
                (f"delivery_{name}_vs_direct", round(direct / result["per_s"], 2), "x floor"),
            ]
    return figures


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
