"""Benchmark of the dashboard: the sent-documents search on 100,000 messages.

The store (SQLite, as embedded; and PostgreSQL) is seeded with 100,000 outgoing messages of
20 senders, each with two deliveries in assorted states, and a directory naming the
recipients; a clerk logged in over HTTP asks the search page for a number/notation, for a
subject word with a state, for a recipient by code, for a subject typed without diacritics,
for an agency by part of its name and for a fragment of an agency's code. Figures: the
median and the slowest answer of each, in milliseconds (target: < 300 ms), measured through
the real aiohttp page (query, rendering and all).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from aiohttp import web  # noqa: E402
from stores import bench_store  # noqa: E402

from adapters.blobs import BlobStore  # noqa: E402
from adapters.redis.feed import LocalFeed  # noqa: E402
from adapters.store.directory import ListedAgency  # noqa: E402
from adapters.store.folding import fold  # noqa: E402
from adapters.store.schema import deliveries, messages  # noqa: E402
from adapters.store.store import Store  # noqa: E402
from gateway.http.dashboard.accounts import create_user  # noqa: E402
from gateway.http.dashboard.web import DashboardContext, build_dashboard  # noqa: E402

MESSAGES = 100_000
STATES = ("sent", "arrived", "accepted", "done", "failed", "retry_wait")
WORDS = ("triển khai", "báo cáo", "kế hoạch", "tổng kết", "hướng dẫn", "đề nghị", "thông báo")


async def _seed(store: Store) -> None:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    batch_messages, batch_deliveries = [], []
    for n in range(MESSAGES):
        sender = f"000.00.{n % 20:02d}.H42"
        created = start + dt.timedelta(minutes=5 * n)
        message_id = str(uuid.uuid4())
        code = f"{n:05d}/UBND-VP"
        batch_messages.append(
            {
                "id": message_id,
                "direction": "out",
                "document_id": f"{sender},{created:%Y/%m/%d},{code}",
                "sender": sender,
                "code": code,
                "subject": f"V/v {WORDS[n % len(WORDS)]} số {n}",
                "business_type": 0,
                "message_type": "edoc",
                "priority": 0,
                "package_ref": "0" * 64,
                "package_size": 1000,
                "created_at": created,
                "search_text": fold(
                    f"{code} V/v {WORDS[n % len(WORDS)]} số {n} {sender},{created:%Y/%m/%d},"
                    f"{code} {sender} 000.00.00.G22 000.00.00.H{n % 63 + 1:02d}"
                ),
            }
        )
        for k, recipient in enumerate(("000.00.00.G22", f"000.00.00.H{n % 63 + 1:02d}")):
            batch_deliveries.append(
                {
                    "id": str(uuid.uuid4()),
                    "message_id": message_id,
                    "recipient": recipient,
                    "route": "axis",
                    "state": STATES[(n + k) % len(STATES)],
                    "attempts": 1,
                    "priority": 0,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        if len(batch_messages) == 5000:
            async with store.engine.begin() as connection:
                await connection.execute(messages.insert(), batch_messages)
                await connection.execute(deliveries.insert(), batch_deliveries)
            batch_messages, batch_deliveries = [], []


PROVINCES = ("An Giang", "Bà Rịa-Vũng Tàu", "Bắc Giang", "Bắc Kạn", "Bạc Liêu", "Bắc Ninh",
             "Bến Tre")  # fmt: skip


async def _directory(store: Store) -> None:
    """The axis' list: the Government Office and 63 provinces' committees, named."""
    listed = [ListedAgency("000.00.00.G22", "Văn phòng Chính phủ")]
    listed += [
        ListedAgency(f"000.00.00.H{n:02d}", f"UBND tỉnh {PROVINCES[n % len(PROVINCES)]} {n}")
        for n in range(1, 64)
    ]
    await store.replace_axis_agencies(listed)


async def _measure(store: Store, tmp: Path) -> dict[str, float]:
    await _directory(store)
    await create_user(
        store, username="binhtt.vp", full_name="Trần Thị Bình", unit="VP", role="clerk",
        agencies=["*.H42"], password="benchmark-password",
    )  # fmt: skip
    app = web.Application()
    app.add_subapp(
        "/dashboard", build_dashboard(DashboardContext(store, BlobStore(tmp / "b"), LocalFeed()))
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/dashboard"
    results: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{url}/login") as page:
                csrf = (await page.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
            form = {"csrf": csrf, "username": "binhtt.vp", "password": "benchmark-password"}
            async with http.post(f"{url}/login", data=form) as response:
                assert response.status == 200
            searches = {
                "number": {"q": "04217/UBND"},
                "subject_and_state": {"q": "tổng kết", "state": "failed"},
                "recipient": {"recipient": "000.00.00.H07"},
                "without_diacritics": {"q": "tong ket"},
                "agency_name": {"q": "bac lieu"},
                "code_fragment": {"q": "00.H07"},
            }
            for name, query in searches.items():
                times = []
                for _ in range(15):
                    start = time.perf_counter()
                    async with http.get(f"{url}/sent", params=query) as response:
                        assert response.status == 200
                        await response.read()
                    times.append(time.perf_counter() - start)
                results[f"{name}_median_ms"] = statistics.median(times) * 1000
                results[f"{name}_max_ms"] = max(times) * 1000
    finally:
        await runner.cleanup()
    return results


async def _on(backend: str, tmp: Path) -> dict[str, float]:
    async with bench_store(backend, tmp) as store:
        await _seed(store)
        if backend == "postgresql":
            async with store.engine.begin() as connection:
                await connection.execute(sa.text("ANALYZE"))
        return await _measure(store, tmp)


def run() -> list[tuple[str, float, str]]:
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("sqlite", "postgresql"):
            for name, value in asyncio.run(_on(backend, Path(folder))).items():
                figures.append(
                    (f"dashboard_search_{backend}_{name}", round(value, 1), "ms (100,000 messages)")
                )
    return figures


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
