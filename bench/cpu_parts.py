"""Where a machine's CPU goes during a run, by part of the deployment, from ``/proc``.

Every part of the deployed bench shares one machine: the gateway's processes, PostgreSQL
(one process per connection), RabbitMQ (the Erlang VM), Redis, the axis simulator and the
bench's own producers and webhook stand-in. What each takes per delivery, and what stays
idle, says what a second gateway process could add: at most the idle CPU, whatever the
gateway's own code does.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuParts", "machine_jiffies"]

#: Processes of the servers the deployment uses, by the name the kernel gives them.
SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq", "redis-server": "redis"}
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def _process_jiffies(pid: int) -> tuple[str, int] | None:
    """(name, user + system jiffies) of a process, None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, int(fields[11]) + int(fields[12])  # utime, stime


def _by_part(own: Mapping[str, Sequence[int]]) -> Counter[str]:
    """Jiffies used so far by each part: ``own`` names the pids of ours (gateway, simulator,
    bench), the servers are found by name; a PostgreSQL backend that is gone is not seen."""
    parts: Counter[str] = Counter()
    ours = {pid: part for part, pids in own.items() for pid in pids}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        found = _process_jiffies(pid)
        if found is None:
            continue
        name, jiffies = found
        part = ours.get(pid) or SERVERS.get(name)
        if part is not None:
            parts[part] += jiffies
    return parts


@dataclass
class CpuParts:
    """CPU by part between ``start()`` and ``stop()``."""

    own: Mapping[str, Sequence[int]]
    _parts: Counter[str] | None = None
    _machine: tuple[int, int] | None = None

    def start(self) -> None:
        self._parts, self._machine = _by_part(self.own), machine_jiffies()

    def stop(self) -> dict[str, float]:
        """Cores each part used on average, ``idle`` the machine's idle ones, ``cores`` all."""
        before, machine_before = self._parts, self._machine
        assert before is not None
        assert machine_before is not None
        parts, (idle, total) = _by_part(self.own), machine_jiffies()
        cores = os.cpu_count() or 1
        seconds = (total - machine_before[1]) / TICKS_PER_S / cores
        used = {
            part: (parts[part] - before[part]) / TICKS_PER_S / seconds
            for part in {*self.own, *SERVERS.values()}
        }
        return used | {"idle": (idle - machine_before[0]) / TICKS_PER_S / seconds, "cores": cores}
