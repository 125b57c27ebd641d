"""Benchmark of the evidence log: what appending an exchange to the chain costs.

Both stores are seeded with the same traffic (each message sent to one recipient and taken
by the axis, and as many received); the evidence job then appends all of it, and the whole
chain is verified (every package re-hashed from the blob store). The floor, measured in the
same run, is the store accepting and recording that traffic in the first place: the figure
is the log's cost per exchange as a ratio to what the exchange already cost the store.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stores import bench_store  # noqa: E402

from adapters.blobs import BlobStore  # noqa: E402
from adapters.store.store import NewDelivery, NewMessage, Store  # noqa: E402
from gateway.operate.evidence import append_new, verify_evidence  # noqa: E402

EXCHANGES = 2000


async def _traffic(store: Store, blobs: BlobStore) -> float:
    """Seconds the store spends accepting and recording EXCHANGES sent and received."""
    start = time.perf_counter()
    for n in range(EXCHANGES):
        ref = blobs.put(f"<edXML>{n}</edXML>".encode())
        _, (delivery,) = await store.accept(
            NewMessage(direction="out", document_id=f"d{n}", sender="000.00.01.H42",
                       package_ref=ref, package_size=20),
            [NewDelivery("000.00.00.G22", "axis")],
        )  # fmt: skip
        (job,) = [
            j for j in await store.claim_due(5, lease_seconds=60) if j.delivery_id == delivery
        ]
        await store.mark_sent(delivery, job.attempt, f"axis-{n}")
        await store.accept(
            NewMessage(direction="in", document_id=f"r{n}", sender="000.00.00.G22",
                       package_ref=ref, package_size=20),
            [], deliver=False, inbound=("axis", f"remote-{n}"),
        )  # fmt: skip
    return time.perf_counter() - start


async def _measure(store: Store, tmp: Path) -> dict[str, float]:
    blobs = BlobStore(tmp / "blobs")
    floor = await _traffic(store, blobs)
    start = time.perf_counter()
    appended = await append_new(store)
    append = time.perf_counter() - start
    start = time.perf_counter()
    report = await verify_evidence(store, blobs)
    verify = time.perf_counter() - start
    assert appended == 2 * EXCHANGES, appended
    assert report.ok, report
    return {
        "append_us_per_entry": append / appended * 1e6,
        "append_ratio_to_exchange": (append / EXCHANGES) / (floor / EXCHANGES),
        "verify_us_per_entry": verify / appended * 1e6,
    }


async def _on(backend: str, tmp: Path) -> dict[str, float]:
    async with bench_store(backend, tmp) as store:
        return await _measure(store, tmp)


def run() -> list[tuple[str, float, str]]:
    figures: list[tuple[str, float, str]] = []
    units = {
        "append_us_per_entry": "µs per entry appended",
        "append_ratio_to_exchange": "x the store's own cost of the exchange (floor, same run)",
        "verify_us_per_entry": "µs per entry verified (package re-hashed)",
    }
    for backend in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory() as folder:
            for name, value in asyncio.run(_on(backend, Path(folder))).items():
                figures.append((f"evidence_{backend}_{name}", round(value, 3), units[name]))
    return figures


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
