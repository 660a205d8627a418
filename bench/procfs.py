"""A process's CPU time and memory, read from /proc (Linux only).

CPU time is ``utime + stime`` of ``/proc/<pid>/stat`` (every thread of the process, not
its children); memory is ``VmRSS`` (resident now) and ``VmHWM`` (the resident peak) of
``/proc/<pid>/status``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / _TICKS


@dataclass(frozen=True, slots=True)
class Memory:
    rss_mib: float
    hwm_mib: float


def memory(pid: int) -> Memory:
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024  # kB -> MiB
    return Memory(values.get("VmRSS", 0.0), values.get("VmHWM", 0.0))
