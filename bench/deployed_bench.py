"""The delivery engine as deployed: accepted -> ``sent`` through real ``edxml-gateway serve``
and ``worker`` processes, with PostgreSQL, RabbitMQ, Redis (the shared destination limit and
the leader locks) and a QLVB's webhook registered (every state change logged and sent to a
receiver in the bench), against the axis simulator in its own process.

The bench process accepts the documents into the store as the API does (one transaction
each, the outbox row in it, 8 at a time); the processes relay and deliver them. Figures,
each run with one process (``serve``) and with two (``serve`` + ``worker``):

* deliveries per second from the first acceptance to the last ``sent``, and as a ratio to
  the floor: the simulator's own rate for the same packages sent straight by our client,
  measured just before each run (goal: >= 0.25);
* p50/p99 seconds from acceptance to ``sent`` of the burst (a backlog: what the last of
  them waited), and p50/p99 of ``EDXML_BENCH_PACED_PACKAGES`` accepted at a steady
  ``EDXML_BENCH_PACED_RATE`` per second (goal: p99 < 1 s);
* the speed-up from one to two processes (goal: >= x1.6), and the most a second process
  could add on this machine: all of it at one process's CPU per delivery, over what it used
  (``bench/cpu_parts.py``, from ``/proc``);
* the cores each part of the deployment used during the burst (the gateway's processes,
  PostgreSQL, RabbitMQ, Redis, the simulator, the bench's producers and webhook stand-in)
  and the machine's idle share;
* the most connections open to the axis at once, as the simulator counts them opening and
  closing (goal: <= 10, the axis' limit per system, whatever the process count);
* the burst again with each gateway process held to ``EDXML_BENCH_HELD_CORES`` (0.3) of a
  core, as a container's CPU limit holds a worker (``bench/cpu_quota.py``; where control
  groups can be written): with one process and with two, and the speed-up, which says what
  the design adds when each process brings its own CPU (goal: >= x1.6).

Each speed-up is printed twice: the rates' own ratio, and the ratio of each rate over the
floor measured just before its run (``*_vs_floor``). The machine's speed drifts by tens of
per cent within minutes; the second says what the processes added, not what the machine
did between the runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cpu_parts import CpuParts  # noqa: E402
from cpu_quota import held_to  # noqa: E402
from delivery_bench import _direct, _latencies, _latency_by_delivery  # noqa: E402
from deployment import (  # noqa: E402
    PACKAGES,
    Deployment,
    accept_all,
    admin,
    deployed,
    sent_times,
    until_sent,
)

from adapters.store.store import Store  # noqa: E402

#: The latency phase: documents accepted at a steady rate the deployment can carry.
PACED_RATE = float(os.environ.get("EDXML_BENCH_PACED_RATE", "50"))
PACED = int(os.environ.get("EDXML_BENCH_PACED_PACKAGES", "1000"))
#: Each gateway process's share of a core in the runs held as containers hold them.
HELD_CORES = float(os.environ.get("EDXML_BENCH_HELD_CORES", "0.3"))
#: The deployment's parts whose CPU is printed (``cpu_parts``).
CORE_PARTS = ("gateway", "postgresql", "rabbitmq", "redis", "simulator", "bench")


async def _one_run(
    axis_url: str, processes: int, folder: Path, simulator_pid: int
) -> dict[str, float]:
    async with deployed(axis_url, folder, processes) as deployment:
        store = deployment.store
        cpu = CpuParts(
            {"gateway": deployment.pids, "simulator": [simulator_pid], "bench": [os.getpid()]}
        )
        cpu.start()
        # the simulator counts the connections as they open and close: every peak is seen
        admin(f"{axis_url}/_admin/connections", "DELETE")
        started = await _burst(deployment, seconds=600)
        cores = cpu.stop()
        per_s = await _rate(store, started)
        connections = admin(f"{axis_url}/_admin/connections")["peak"]
        latencies = sorted(await _latencies(store))
        paced = await _paced_latencies(store, deployment.ref, deployment.size)
    return {
        "per_s": per_s,
        "p50_s": statistics.median(latencies),
        "p99_s": latencies[int(len(latencies) * 0.99) - 1],
        "connections": float(connections),
        "paced_p50_s": statistics.median(paced),
        "webhooks": float(deployment.receiver.received),
        "paced_p99_s": paced[int(len(paced) * 0.99) - 1],
    } | {f"cores_{part}": used for part, used in cores.items()}


async def _held_run(axis_url: str, processes: int, folder: Path) -> float | None:
    """Deliveries per second of the burst with each gateway process held to ``HELD_CORES``
    (``cpu_quota``); None where processes cannot be held here."""
    async with deployed(axis_url, folder, processes) as deployment:
        with held_to(deployment.pids, HELD_CORES) as held:
            if not held:
                return None
            started = await _burst(deployment, seconds=900)
            return await _rate(deployment.store, started)


async def _burst(deployment: Deployment, *, seconds: float) -> dt.datetime:
    """Accept ``PACKAGES`` documents as fast as the producers can and wait until all are
    sent; when the burst began."""
    started = dt.datetime.now(dt.UTC)
    await accept_all(deployment.store, deployment.ref, deployment.size, uuid.uuid4().hex[:6])
    await until_sent(deployment.store, PACKAGES, seconds=seconds)
    return started


async def _rate(store: Store, started: dt.datetime) -> float:
    """Deliveries per second of a burst: to the last ``sent`` the gateway logged, not to
    when a poll saw it (the bench asks twice a second, not twenty times, of the database
    being measured)."""
    return PACKAGES / ((await sent_times(store))[-1] - started).total_seconds()


async def _paced_latencies(store: Store, ref: str, size: int) -> list[float]:
    """Acceptance -> ``sent`` of ``PACED`` documents accepted at ``PACED_RATE``: the latency
    of a deployment that keeps up, not of a backlog (the burst measures the rate)."""
    burst = set(await _latency_by_delivery(store))
    await accept_all(store, ref, size, uuid.uuid4().hex[:6], PACED, rate=PACED_RATE)
    await until_sent(store, len(burst) + PACED, seconds=600)
    latencies = await _latency_by_delivery(store)
    return sorted(seconds for delivery, seconds in latencies.items() if delivery not in burst)


def run() -> list[tuple[str, float, str]]:
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "simulate-axis", "--port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert simulator.stdout is not None
            url = simulator.stdout.readline().rsplit(" ", 1)[-1].strip()
            results, floors = {}, {}
            for processes in (1, 2):
                run_folder = Path(folder) / f"p{processes}"
                run_folder.mkdir()
                # the floor just before the run it divides: this machine's speed drifts by
                # tens of per cent within minutes, the simulator's intake with it
                floors[processes] = asyncio.run(_direct(url))
                results[processes] = asyncio.run(
                    _one_run(url, processes, run_folder, simulator.pid)
                )
            held: dict[int, float | None] = {}
            held_floors: dict[int, float] = {}
            for processes in (1, 2):
                (run_folder := Path(folder) / f"held{processes}").mkdir()
                held_floors[processes] = asyncio.run(_direct(url))
                held[processes] = asyncio.run(_held_run(url, processes, run_folder))
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
    for processes, result in results.items():
        name, floor = f"deployed_{processes}p", floors[processes]
        figures += [
            (f"{name}_floor_direct_per_s", round(floor, 1), "packages/s client->simulator, before"),
            (f"{name}_per_s", round(result["per_s"], 1), "deliveries/s accepted->sent"),
            (f"{name}_ratio_to_floor", round(result["per_s"] / floor, 3), "x floor (goal >= 0.25)"),
            (f"{name}_p50_s", round(result["p50_s"], 3), "s accepted->sent"),
            (f"{name}_p99_s", round(result["p99_s"], 3), "s accepted->sent, the burst's backlog"),
            (f"{name}_axis_connections_peak", result["connections"], "connections (goal <= 10)"),
            (
                f"{name}_paced_p99_s",
                round(result["paced_p99_s"], 3),
                f"s accepted->sent at a steady {PACED_RATE:g}/s (goal < 1)",
            ),
            (f"{name}_paced_p50_s", round(result["paced_p50_s"], 3), f"s at {PACED_RATE:g}/s"),
            (f"{name}_webhooks_received", result["webhooks"], "webhook calls the QLVB got"),
            (
                f"{name}_cpu_idle_pct",
                round(100 * result["cores_idle"] / result["cores_cores"], 1),
                "% of the machine's CPU idle during the burst (every process on it)",
            ),
        ]
        figures += [
            (f"{name}_cores_{part}", round(result[f"cores_{part}"], 2), "cores during the burst")
            for part in CORE_PARTS
        ]
    one, two = results[1], results[2]
    figures += [
        ("deployed_scaling_1p_to_2p", round(two["per_s"] / one["per_s"], 2), "x (goal >= 1.6)"),
        (
            "deployed_scaling_1p_to_2p_vs_floor",
            round(_over_floors(two["per_s"], one["per_s"], floors), 2),
            f"x, {OVER_FLOORS} (goal >= 1.6)",
        ),
        (
            "deployed_scaling_machine_bound",
            round(one["cores_cores"] / (one["cores_cores"] - one["cores_idle"]), 2),
            "x: the most a second process could add here (every idle core used at one "
            "process's cost per delivery)",
        ),
    ]
    return figures + _held_figures(held, held_floors)


def _over_floors(two: float, one: float, floors: dict[int, float]) -> float:
    """Two processes' speed-up over one, each rate over the floor measured just before it."""
    return (two / floors[2]) / (one / floors[1])


#: What a speed-up over the floors corrects for
OVER_FLOORS = "each rate over the floor measured just before it (the machine's speed drifts)"


def _held_figures(
    held: dict[int, float | None], floors: dict[int, float]
) -> list[tuple[str, float, str]]:
    """The held runs' rates and speed-up; none where processes could not be held."""
    one, two = held[1], held[2]
    if one is None or two is None:
        return []
    each = f"each gateway process held to {HELD_CORES:g} of a core"
    return [
        *(
            (f"deployed_held_{n}p_floor_direct_per_s", round(floors[n], 1), "packages/s, before")
            for n in (1, 2)
        ),
        ("deployed_held_1p_per_s", round(one, 1), f"deliveries/s, {each}"),
        ("deployed_held_2p_per_s", round(two, 1), f"deliveries/s, {each}"),
        ("deployed_scaling_1p_to_2p_held", round(two / one, 2), f"x, {each} (goal >= 1.6)"),
        (
            "deployed_scaling_1p_to_2p_held_vs_floor",
            round(_over_floors(two, one, floors), 2),
            f"x, {each}, {OVER_FLOORS} (goal >= 1.6)",
        ),
    ]


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"bench {name} {value:g} {unit}")
