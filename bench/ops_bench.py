"""Benchmark of the operations surface (issue 8): a /metrics scrape and an alerts pass.

Both read the store of record on each call (so they count every process of a deployment).
The store (SQLite, as embedded; and PostgreSQL) holds the dashboard benchmark's 100,000
outgoing messages with 200,000 deliveries in assorted states, those delivered with a send
latency. Figures: the median of a /metrics scrape through the real aiohttp app, and of one
alerts pass (``gateway.operate.alerts.evaluate``), each in milliseconds and as a ratio to a floor
measured in the same run: ``SELECT count(*) FROM deliveries``, the cheapest question that
must look at every delivery.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from aiohttp import web  # noqa: E402
from dashboard_bench import _seed  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from stores import POSTGRES_URL  # noqa: E402

from adapters.store.engine import create_engine, migrate  # noqa: E402
from adapters.store.schema import deliveries  # noqa: E402
from gateway.config import GatewaySettings  # noqa: E402
from gateway.operate.alerts import evaluate  # noqa: E402
from gateway.runtime import Runtime  # noqa: E402

REPEATS = 15


async def _median_ms(call: Callable[[], Awaitable[object]]) -> float:
    await call()  # warm-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _measure(settings: GatewaySettings) -> dict[str, float]:
    async with Runtime(settings) as runtime:
        store = runtime.store
        await _seed(store)
        async with store.engine.begin() as connection:
            await connection.execute(
                deliveries.update()
                .where(deliveries.c.state.in_(("sent", "arrived", "accepted", "done")))
                .values(sent_at=deliveries.c.created_at, send_seconds=4.0)
            )
            if store.engine.dialect.name == "postgresql":
                await connection.execute(sa.text("ANALYZE"))
        runner = web.AppRunner(runtime.web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            async with aiohttp.ClientSession() as http:

                async def scrape() -> None:
                    async with http.get(f"http://{host}:{port}/metrics") as response:
                        assert response.status == 200
                        text = await response.text()
                    assert 'edxml_delivery_latency_seconds_bucket{le="5"}' in text

                async def count() -> None:
                    async with store.engine.connect() as connection:
                        await connection.scalar(sa.select(sa.func.count()).select_from(deliveries))

                async def alerts_pass() -> None:
                    await evaluate(store, runtime.signers, settings.alerts)

                floor = await _median_ms(count)
                metrics = await _median_ms(scrape)
                alerts = await _median_ms(alerts_pass)
        finally:
            await runner.cleanup()
    return {
        "count_floor_ms": floor,
        "metrics_scrape_ms": metrics,
        "metrics_scrape_vs_floor": metrics / floor,
        "alerts_pass_ms": alerts,
        "alerts_pass_vs_floor": alerts / floor,
    }


async def _sqlite(tmp: Path) -> dict[str, float]:
    return await _measure(GatewaySettings(data_dir=tmp / "sqlite", signature_required=False))


async def _postgres(tmp: Path) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, schema=schema)
    await migrate(engine)
    await engine.dispose()
    try:
        return await _measure(
            GatewaySettings(
                data_dir=tmp / "pg",
                database_url=POSTGRES_URL,
                database_schema=schema,
                signature_required=False,
            )
        )
    finally:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def run() -> list[tuple[str, float, str]]:
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        for backend, measure in (("sqlite", _sqlite), ("postgresql", _postgres)):
            for name, value in asyncio.run(measure(Path(folder))).items():
                unit = "x" if name.endswith("_vs_floor") else "ms (200,000 deliveries)"
                figures.append((f"ops_{backend}_{name}", round(value, 2), unit))
    return figures


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
