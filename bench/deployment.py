"""A deployment for the benches: real ``edxml-gateway serve`` and ``worker`` processes on a
fresh PostgreSQL schema, RabbitMQ and Redis, a QLVB's webhook registered and answered by a
stand-in, and the burst of small documents its producers accept as the API would."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from axis_bench import _small_package  # noqa: E402
from redis import asyncio as aioredis  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from webhook_standin import WebhookReceiver  # noqa: E402

from adapters.blobs import BlobStore  # noqa: E402
from adapters.store.engine import create_engine  # noqa: E402
from adapters.store.schema import delivery_events  # noqa: E402
from adapters.store.store import NewDelivery, NewMessage, Store  # noqa: E402

PACKAGES = int(os.environ.get("EDXML_BENCH_DEPLOYED_PACKAGES", "3000"))
PRODUCERS = 8
POSTGRES_URL = os.environ.get(
    "EDXML_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
AMQP_URL = os.environ.get("EDXML_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
OFFICE, VPCP = "000.00.01.H42", "000.00.00.G22"
SECRET = "demo-secret-ninh-binh"
ADMIN_TOKEN = "demo-admin-token"  # the simulator's, config/axis-simulator.json
QLVB_CLIENT = "bench-qlvb"


async def _hook(store: Store, url: str) -> None:
    """A QLVB client of the sender's agencies with a webhook: every state change is logged
    for it and sent, as in a deployment whose QLVB listens."""
    await store.add_client(QLVB_CLIENT, "QLVB (bench)", "0" * 64, ["*.H42"])
    await store.set_webhook(QLVB_CLIENT, url, "bench-webhook-secret")


def admin(url: str, method: str = "GET") -> dict[str, Any]:
    """The simulator's admin endpoint (``/_admin/...``), answered as JSON."""
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def _settings(
    folder: Path, schema: str, axis_url: str, extra: dict[str, Any] | None = None
) -> Path:
    config = folder / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(folder / "data"),
                "database_url": POSTGRES_URL,
                "database_schema": schema,
                "broker_url": AMQP_URL,
                "broker_prefix": f"edxml-bench-{schema}",
                "redis_url": REDIS_URL,
                "redis_prefix": f"edxml-bench-{schema}",
                "axis": {
                    "base_url": axis_url,
                    "system_id": "00.42.W00",
                    "secret_env": "EDXML_BENCH_AXIS_SECRET",
                    "poll": False,
                },
                "own_agencies": ["*.H42"],
                "signature_required": False,
                "webhooks": {"allowed_schemes": ["http"], "allowed_networks": ["127.0.0.0/8"]},
                "log_level": "WARNING",
            }
            | (extra or {})
        )
    )
    return config


def _start(command: str, config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", command, "--config", str(config),
             *(["--port", "0"] if command == "serve" else [])],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def accept_all(
    store: Store,
    ref: str,
    size: int,
    run_id: str,
    count: int = PACKAGES,
    *,
    rate: float | None = None,
) -> float:
    """Accept ``count`` documents, as fast as ``PRODUCERS`` can or at a steady ``rate``."""
    producers = asyncio.Semaphore(PRODUCERS)
    start = time.perf_counter()

    async def accept(number: int) -> None:
        if rate is not None:
            await asyncio.sleep(max(0.0, start + number / rate - time.perf_counter()))
        async with producers:
            await store.accept(
                NewMessage(
                    direction="out",
                    document_id=f"{OFFICE},2026/11/25,{run_id}{number}/UBND-VP",
                    sender=OFFICE,
                    code=f"{number}/UBND-VP",
                    package_ref=ref,
                    package_size=size,
                    client_id=QLVB_CLIENT,  # as the API records it: its webhook is told
                ),
                [NewDelivery(VPCP, "axis")],
            )

    await asyncio.gather(*(accept(number) for number in range(count)))
    return start


@dataclass
class Deployment:
    """A running deployment: its store as the bench sees it, the QLVB's webhook receiver,
    and the small package the documents carry (in the deployment's blob store)."""

    store: Store
    receiver: WebhookReceiver
    ref: str
    size: int
    pids: list[int]  # the gateway's processes


async def _until_ready(redis_prefix: str, processes: int, *, seconds: float = 120) -> None:
    """Wait until every process is up, holds its share of the axis' connections and leads
    the singleton jobs seated on it: all of them in the deployment's roster (Redis), then
    two more heartbeats, by when each has seen the same roster twice, raised its share and
    handed over the jobs seated elsewhere, and a second for the seated ones to take them. A
    deployment's figures are those of processes that are running, not of their start
    (importing alone takes seconds)."""
    client = aioredis.from_url(REDIS_URL)
    deadline = time.monotonic() + seconds
    try:
        while await client.zcard(f"{redis_prefix}:members") < processes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the deployment's {processes} processes did not start")
            await asyncio.sleep(0.2)
    finally:
        await client.aclose()
    await asyncio.sleep(3.5)  # two heartbeats of 1 s, a leader lock's retry, and some


@contextlib.asynccontextmanager
async def deployed(
    axis_url: str, folder: Path, processes: int, settings: dict[str, Any] | None = None
) -> AsyncIterator[Deployment]:
    """A fresh schema, migrated; ``serve`` and ``processes - 1`` workers running on it; a
    QLVB webhook registered; ``settings`` added to the deployment's. Everything is stopped
    and dropped on the way out."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    config = _settings(folder, schema, axis_url, settings)
    env = {**os.environ, "EDXML_BENCH_AXIS_SECRET": SECRET}
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "migrate", "--config", str(config)],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    running = [_start("serve", config, env, folder / "serve.log")]
    running += [
        _start("worker", config, env, folder / f"worker{n}.log") for n in range(processes - 1)
    ]
    store = Store(create_engine(POSTGRES_URL, schema=schema))
    receiver = WebhookReceiver()
    try:
        await _hook(store, receiver.url)
        await _until_ready(f"edxml-bench-{schema}", processes)
        package = _small_package()
        ref = BlobStore(folder / "data" / "blobs").put(package)
        yield Deployment(store, receiver, ref, len(package), [p.pid for p in running])
    finally:
        receiver.close()
        for process in running:
            process.terminate()
        for process in running:
            process.wait(timeout=60)
        await store.close()
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def sent_times(store: Store) -> list[dt.datetime]:
    """When each delivery was ``sent``, as the gateway's processes logged it (UTC)."""
    query = sa.select(delivery_events.c.at).where(delivery_events.c.to_state == "sent")
    async with store.engine.connect() as connection:
        return sorted(
            at if at.tzinfo else at.replace(tzinfo=dt.UTC)
            for (at,) in await connection.execute(query)
        )


async def until_sent(store: Store, count: int, *, seconds: float, poll: float = 0.5) -> None:
    """Wait until ``count`` deliveries are ``sent``; ``RuntimeError`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (await store.counts_by_state()).get("sent", 0) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all sent: {await store.counts_by_state()}")
        await asyncio.sleep(poll)
