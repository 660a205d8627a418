"""Host cgroups for the process containerizer: create, limit, signal, measure, remove.

Layout (one directory per container, under a ``berth`` parent we own):

* cgroup v1 (also the "hybrid" layout): ``<root>/<ctrl>/berth/<container_id>`` for the
  ``memory``, ``cpu`` and ``cpuacct`` controllers (co-mounted controllers such as
  ``cpu,cpuacct`` are used once).
* cgroup v2 (``<root>/cgroup.controllers`` exists): ``<root>/berth/<container_id>``,
  with ``+memory +cpu`` enabled in the parents' ``cgroup.subtree_control``.

Where neither can be written (no root, a read-only /sys/fs/cgroup, a v2 namespace whose
root has processes), ``Cgroups.version`` is ``NONE``: containers run without limits and
that is logged once per process. Nothing here blocks for long; everything is plain file
I/O on cgroupfs, which the kernel answers immediately.

The shim (``shim.py``) moves the task into the directories this module creates; it
cannot import this module (it runs with ``python -I`` and the standard library only),
so the few file names it needs travel in its launch file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000
_V1_CONTROLLERS = ("memory", "cpu", "cpuacct")
_UNLIMITED = 2**62  # v1 reports "no limit" as a huge page-aligned number
_warned: set[str] = set()


class CgroupVersion(StrEnum):
    V1 = "v1"
    V2 = "v2"
    NONE = "none"


class CgroupError(Exception):
    """A cgroup for a container could not be set up."""


@dataclass(frozen=True, slots=True)
class CgroupStats:
    user_seconds: float
    system_seconds: float
    rss_bytes: int
    mem_limit_bytes: int | None
    cpus_limit: float | None


def cfs_quota_us(cpus: float, period_us: int = CFS_PERIOD_US) -> int:
    """CFS quota for a cpu limit; the kernel refuses quotas under 1 ms.

    >>> cfs_quota_us(0.5), cfs_quota_us(2), cfs_quota_us(0.001)
    (50000, 200000, 1000)
    """
    return max(1000, round(cpus * period_us))


def parse_keyed(text: str) -> dict[str, int]:
    """Parse cgroup "flat keyed" files (``memory.stat``, ``memory.events``, ...).

    >>> parse_keyed("oom 1\\noom_kill 2\\nbad line here\\n")
    {'oom': 1, 'oom_kill': 2}
    """
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out[parts[0]] = int(parts[1])
    return out


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _write(path: Path, value: str) -> None:
    with path.open("w") as f:
        f.write(value)


class Cgroups:
    """The ``berth`` cgroup subtree on this host; probed (and created) on construction."""

    def __init__(self, root: Path = CGROUP_ROOT, parent: str = "berth") -> None:
        self.root = root
        self.parent = parent
        self.version = CgroupVersion.NONE
        # v1: controller name -> its "berth" directory; v2: {"unified": berth dir}
        self._bases: dict[str, Path] = {}
        try:
            if (root / "cgroup.controllers").exists():
                self._probe_v2()
            elif (root / "memory").is_dir() or (root / "cpu").is_dir():
                self._probe_v1()
        except OSError as e:
            self._bases = {}
            _warn_once(f"probe:{root}", "cgroups under %s not usable (%s)", root, e)
        if self._bases:
            self.version = CgroupVersion.V2 if "unified" in self._bases else CgroupVersion.V1
        else:
            _warn_once(
                f"none:{root}",
                "no writable cgroup hierarchy under %s: containers run without cpu/memory "
                "limits and OOM detection",
                root,
            )

    # -- probing -------------------------------------------------------------------

    def _probe_v1(self) -> None:
        seen: set[str] = set()
        for ctrl in _V1_CONTROLLERS:
            mount = self.root / ctrl
            if not (mount / "cgroup.procs").exists():
                continue
            real = os.path.realpath(mount)
            if real in seen:  # co-mounted (cpu,cpuacct): one directory serves both
                continue
            try:
                (mount / self.parent).mkdir(exist_ok=True)
            except OSError as e:
                _warn_once(f"v1:{ctrl}", "cgroup v1 %s controller not writable: %s", ctrl, e)
                continue
            seen.add(real)
            self._bases[ctrl] = mount / self.parent

    def _probe_v2(self) -> None:
        available = set((_read(self.root / "cgroup.controllers") or "").split())
        wanted = [c for c in ("memory", "cpu") if c in available]
        base = self.root / self.parent
        base.mkdir(exist_ok=True)
        for directory in (self.root, base):
            enabled = set((_read(directory / "cgroup.subtree_control") or "").split())
            missing = [c for c in wanted if c not in enabled]
            if missing:
                _write(directory / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
        self._bases["unified"] = base

    # -- per container -------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.version is not CgroupVersion.NONE

    @property
    def limits_memory(self) -> bool:
        return "memory" in self._bases or (
            "unified" in self._bases
            and "memory" in (_read(self._bases["unified"] / "cgroup.subtree_control") or "")
        )

    def dirs(self, container_id: str) -> tuple[Path, ...]:
        """The container's cgroup directories (whether or not they exist)."""
        return tuple(base / container_id for base in self._bases.values())

    def memory_dir(self, container_id: str) -> Path | None:
        base = self._bases.get("memory") or self._bases.get("unified")
        return base / container_id if base is not None else None

    def create(self, container_id: str, *, cpus: float | None, mem_bytes: int | None) -> None:
        """Create the container's cgroups and apply its limits (None: unlimited)."""
        try:
            for directory in self.dirs(container_id):
                directory.mkdir(exist_ok=True)
            if self.version is CgroupVersion.V2:
                self._limit_v2(self._bases["unified"] / container_id, cpus, mem_bytes)
            elif self.version is CgroupVersion.V1:
                self._limit_v1(container_id, cpus, mem_bytes)
        except OSError as e:
            self.remove(container_id)
            raise CgroupError(f"cannot set up cgroup for {container_id}: {e}") from e

    def _limit_v1(self, container_id: str, cpus: float | None, mem_bytes: int | None) -> None:
        memory = self._bases.get("memory")
        if memory is not None and mem_bytes is not None:
            directory = memory / container_id
            _write(directory / "memory.limit_in_bytes", str(mem_bytes))
            if (directory / "memory.memsw.limit_in_bytes").exists():
                # memory+swap == memory: the task cannot push itself into swap.
                _write(directory / "memory.memsw.limit_in_bytes", str(mem_bytes))
        cpu = self._bases.get("cpu")
        if cpu is not None and cpus is not None:
            directory = cpu / container_id
            _write(directory / "cpu.shares", str(max(2, round(cpus * 1024))))
            _write(directory / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(directory / "cpu.cfs_quota_us", str(cfs_quota_us(cpus)))

    def _limit_v2(self, directory: Path, cpus: float | None, mem_bytes: int | None) -> None:
        if mem_bytes is not None and (directory / "memory.max").exists():
            _write(directory / "memory.max", str(mem_bytes))
            if (directory / "memory.swap.max").exists():
                _write(directory / "memory.swap.max", "0")
        if cpus is not None and (directory / "cpu.max").exists():
            _write(directory / "cpu.max", f"{cfs_quota_us(cpus)} {CFS_PERIOD_US}")

    def pids(self, container_id: str) -> set[int]:
        pids: set[int] = set()
        for directory in self.dirs(container_id):
            for line in (_read(directory / "cgroup.procs") or "").split():
                with contextlib.suppress(ValueError):
                    pids.add(int(line))
        return pids

    def signal(self, container_id: str, sig: int) -> None:
        """Send ``sig`` to every process in the container's cgroups."""
        if sig == signal.SIGKILL and self.version is CgroupVersion.V2:
            kill_file = self._bases["unified"] / container_id / "cgroup.kill"
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    _write(kill_file, "1")
                    return
        for pid in self.pids(container_id):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill_all(self, container_id: str, timeout: float = 10.0) -> bool:
        """SIGKILL until the cgroups are empty (new forks race the first pass); True if empty."""
        deadline = time.monotonic() + timeout
        while True:
            self.signal(container_id, signal.SIGKILL)
            if not self.pids(container_id):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def remove(self, container_id: str) -> bool:
        """Remove the container's cgroup directories (children first); True if all gone."""
        ok = True
        for directory in self.dirs(container_id):
            if not directory.exists():
                continue
            for sub, _dirs, _files in sorted(os.walk(directory), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        ok = False
        return ok

    def oom_killed(self, container_id: str) -> bool:
        """Did the kernel OOM-kill a process of this container?"""
        directory = self.memory_dir(container_id)
        if directory is None:
            return False
        if self.version is CgroupVersion.V2:
            return parse_keyed(_read(directory / "memory.events") or "").get("oom_kill", 0) > 0
        return parse_keyed(_read(directory / "memory.oom_control") or "").get("oom_kill", 0) > 0

    def stats(self, container_id: str) -> CgroupStats | None:
        """Usage and limits, or None if the container has no cgroup here."""
        if self.version is CgroupVersion.V2:
            return self._stats_v2(self._bases["unified"] / container_id)
        if self.version is CgroupVersion.V1:
            return self._stats_v1(container_id)
        return None

    def _stats_v2(self, directory: Path) -> CgroupStats | None:
        cpu = _read(directory / "cpu.stat")
        if cpu is None:
            return None
        cpu_stat = parse_keyed(cpu)
        memory = parse_keyed(_read(directory / "memory.stat") or "")
        mem_max = (_read(directory / "memory.max") or "max").strip()
        cpu_max = (_read(directory / "cpu.max") or "max").split()
        cpus_limit = None
        if len(cpu_max) == 2 and cpu_max[0] != "max":
            cpus_limit = int(cpu_max[0]) / int(cpu_max[1])
        return CgroupStats(
            user_seconds=cpu_stat.get("user_usec", 0) / 1e6,
            system_seconds=cpu_stat.get("system_usec", 0) / 1e6,
            rss_bytes=memory.get("anon", 0),
            mem_limit_bytes=None if mem_max == "max" else int(mem_max),
            cpus_limit=cpus_limit,
        )

    def _stats_v1(self, container_id: str) -> CgroupStats | None:
        user = system = 0.0
        rss = 0
        mem_limit: int | None = None
        cpus_limit: float | None = None
        found = False
        acct = self._bases.get("cpuacct") or self._bases.get("cpu")
        if acct is not None:
            text = _read(acct / container_id / "cpuacct.stat")
            if text is not None:
                found = True
                ticks = parse_keyed(text)
                hz = os.sysconf("SC_CLK_TCK")
                user, system = ticks.get("user", 0) / hz, ticks.get("system", 0) / hz
        memory = self._bases.get("memory")
        if memory is not None:
            stat = _read(memory / container_id / "memory.stat")
            if stat is not None:
                found = True
                values = parse_keyed(stat)
                rss = values.get("total_rss", values.get("rss", 0))
                limit = int((_read(memory / container_id / "memory.limit_in_bytes") or "0").strip())
                mem_limit = None if limit <= 0 or limit >= _UNLIMITED else limit
        cpu = self._bases.get("cpu")
        if cpu is not None:
            quota = (_read(cpu / container_id / "cpu.cfs_quota_us") or "-1").strip()
            period = (_read(cpu / container_id / "cpu.cfs_period_us") or "0").strip()
            if quota.lstrip("-").isdigit() and int(quota) > 0 and int(period) > 0:
                cpus_limit = int(quota) / int(period)
        if not found:
            return None
        return CgroupStats(user, system, rss, mem_limit, cpus_limit)
