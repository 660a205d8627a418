"""What this machine offers: resources detected from the host, overridable by flag."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from berth.core.resources import Resources

DEFAULT_PORTS = ((31000, 32000),)
_GB = 1024  # in MB


def _total_memory_mb() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 1024.0


def detected_resources(work_dir: Path) -> Resources:
    """Mesos's defaults: all cores; memory minus 1 GB (or half when under 2 GB);
    the work dir's disk minus 5 GB (or half when under 10 GB); ports 31000-32000."""
    try:
        cpus = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cpus = float(os.cpu_count() or 1)
    mem = _total_memory_mb()
    mem = mem - _GB if mem >= 2 * _GB else mem / 2
    work_dir.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(work_dir).total / (1024 * 1024)
    disk = disk - 5 * _GB if disk >= 10 * _GB else disk / 2
    return Resources.of(cpus=cpus, mem=int(mem), disk=int(disk), ports=DEFAULT_PORTS)


def agent_resources(work_dir: Path, flag: str | None) -> Resources:
    """The detected resources, with every name given in ``--resources`` replaced.

    >>> r = agent_resources(Path("/tmp"), "cpus:2;ports:[5000-5001]")
    >>> r.scalar_value("cpus"), r.ranges_of("ports")
    (2.0, ((5000, 5001),))
    """
    detected = detected_resources(work_dir)
    if not flag:
        return detected
    given = Resources.parse_text(flag)
    return detected.without_names(*given.names()) + given
