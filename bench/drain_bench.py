"""Draining after an outage, as deployed: the axis is down while documents are accepted, then
comes back; how soon the gateway notices and how fast the waiting deliveries go.

Real ``edxml-gateway serve`` (PostgreSQL, RabbitMQ, Redis, the default retry schedule: 30 s,
2 min, 10 min ...) against the axis simulator in its own process, whose admin endpoint
is down for ``EDXML_BENCH_OUTAGE_SECONDS`` (default 60) from before
``EDXML_BENCH_DRAIN_PACKAGES`` documents (default 3,000) are accepted: once announced (503
with ``Retry-After``, the axis' maintenance) and once not (HTTP 500 until it ends). Without
the probe and the wake-up on the first success, the deliveries would each wait out their
step of the schedule (up to 10 minutes after an outage of this length). Figures:

* seconds from the end of the outage to the first delivery after it (goal: within the
  schedule's first step, 30 s);
* deliveries per second from then to the last one (goal: >= 200/s), and as a ratio to the
  floor of the same run (our client sending straight to the simulator);
* seconds from the end of the outage to the last delivery.

The unannounced outage runs twice: with the probes (``workers.probes``, the default) and
without them, where only a trial delivery per first step of the schedule finds the axis back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from delivery_bench import _direct  # noqa: E402
from deployment import (  # noqa: E402
    ADMIN_TOKEN,
    accept_all,
    deployed,
    sent_times,
    until_sent,
)

PACKAGES = int(os.environ.get("EDXML_BENCH_DRAIN_PACKAGES", "3000"))
OUTAGE_SECONDS = float(os.environ.get("EDXML_BENCH_OUTAGE_SECONDS", "60"))


def _faults(url: str, plan: dict[str, float]) -> None:
    request = urllib.request.Request(
        f"{url}/_admin/faults",
        data=json.dumps(plan).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


async def _one_run(
    axis_url: str, folder: Path, *, announced: bool, probes: bool = True
) -> dict[str, float]:
    """An announced outage answers 503 with ``Retry-After`` (the axis' maintenance); an
    unannounced one answers 500 until it ends, and only the schedule and the probe help."""
    settings = {"workers": {"probes": probes}}
    async with deployed(axis_url, folder, processes=1, settings=settings) as deployment:
        store = deployment.store
        _faults(axis_url, {"outage_seconds": OUTAGE_SECONDS} if announced else {"error_rate": 1})
        recovered = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=OUTAGE_SECONDS)
        await accept_all(store, deployment.ref, deployment.size, uuid.uuid4().hex[:6], PACKAGES)
        if not announced:
            await asyncio.sleep((recovered - dt.datetime.now(dt.UTC)).total_seconds())
            _faults(axis_url, {})
        await until_sent(store, PACKAGES, seconds=OUTAGE_SECONDS + 900, poll=0.5)
        sent = [at for at in await sent_times(store) if at >= recovered]
    first, last = sent[0], sent[-1]
    return {
        "noticed_s": (first - recovered).total_seconds(),
        "per_s": len(sent) / max((last - first).total_seconds(), 1e-3),
        "total_s": (last - recovered).total_seconds(),
    }


def run() -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory() as folder:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "simulate-axis", "--port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert simulator.stdout is not None
            url = simulator.stdout.readline().rsplit(" ", 1)[-1].strip()
            floor = asyncio.run(_direct(url))
            results = {}
            for kind in ("announced", "unannounced", "unannounced_no_probes"):
                (Path(folder) / kind).mkdir()
                results[kind] = asyncio.run(
                    _one_run(
                        url,
                        Path(folder) / kind,
                        announced=kind == "announced",
                        probes=not kind.endswith("no_probes"),
                    )
                )
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
    figures = [("drain_floor_direct_per_s", round(floor, 1), "packages/s client->simulator")]
    for kind, result in results.items():
        outage = f"after a {OUTAGE_SECONDS:g} s {kind.replace('_', ' ')} outage, {PACKAGES} waiting"
        figures += [
            (f"drain_{kind}_noticed_after_s", round(result["noticed_s"], 1),
             f"s {outage} (goal <= 30)"),
            (f"drain_{kind}_per_s", round(result["per_s"], 1),
             f"deliveries/s {outage} (goal >= 200)"),
            (f"drain_{kind}_ratio_to_floor", round(result["per_s"] / floor, 3), "x floor"),
            (f"drain_{kind}_total_s", round(result["total_s"], 1),
             f"s {outage}, to the last one"),
        ]  # fmt: skip
    return figures


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
