"""master-idle-agents: what idle agents cost a master.

For each agent count: a fresh ``berth master`` (default settings: agents pinged every
15 s), a separate ``python -m berth.sim`` process with that many simulated agents (which,
like real agents, also ping the master every 15 s), and once all have registered and a
settling pause has passed, the master's CPU time over an idle window from
/proc/<pid>/stat, and its memory (VmRSS, VmHWM) from /proc/<pid>/status. No framework is
subscribed, so nothing is offered or launched: this is the pure cost of keeping agents.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procfs
from bench.report import Run, Table, fmt, now, this_machine
from bench.services import Services, get_json, wait_sim_ready

NAME = "master-idle-agents"
TITLE = "master CPU and memory with idle agents"
DESCRIPTION = """
The master's CPU (percent of one core, from `/proc/<pid>/stat` over an idle window after
every agent has registered and a settling pause) and memory (`VmRSS` at the end of the
window and the peak `VmHWM`, from `/proc/<pid>/status`) with N idle simulated agents
connected over the real agent channel (`python -m berth.sim`, in its own process). Master
defaults throughout (`--agent-ping-timeout 15`); the simulated agents also ping every 15 s,
as real agents do. 0 agents is the baseline. The simulator's own CPU is shown for scale.
"""
TARGET = "with 1,000 idle agents: under 5% of one core and under 300 MB resident (RSS)."

CPU_TARGET = 5.0
RSS_TARGET_MB = 300.0
TARGET_AGENTS = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument(
        "--idle-agents",
        default="0,1000,5000",
        help="comma-separated agent counts to measure (default 0,1000,5000)",
    )
    group.add_argument(
        "--idle-seconds", type=float, default=30.0, help="length of the idle window (30)"
    )
    group.add_argument(
        "--sim-heartbeat",
        type=float,
        default=15.0,
        help="the simulated agents' own ping interval, as the agent's --heartbeat (15; 0: none)",
    )
    group.add_argument(
        "--settle-seconds",
        type=float,
        default=5.0,
        help="pause between the last registration and the window (5)",
    )


@dataclass(frozen=True, slots=True)
class Point:
    agents: int
    register_s: float  # NaN for 0 agents
    window_s: float
    cpu_pct: float
    rss_mib: float
    hwm_mib: float
    sim_cpu_pct: float  # NaN for 0 agents
    active_after: int


def measure(agents: int, idle_s: float, settle_s: float, heartbeat: float, root: Path) -> Point:
    root.mkdir(parents=True, exist_ok=True)
    services = Services(root)
    try:
        master, url = services.start_master()
        register_s = float("nan")
        sim = None
        if agents:
            sim = services.start_sim(
                url, agents, "--prefix", f"idle{agents}", "--heartbeat", f"{heartbeat:g}"
            )
            register_s = wait_sim_ready(sim, timeout=120 + agents * 0.1)
            active = sum(1 for s in get_json(url + "/master/slaves")["slaves"] if s["active"])
            if active != agents:
                raise RuntimeError(f"{active} of {agents} agents active after registration")
        time.sleep(settle_s)
        cpu0, sim0, t0 = procfs.cpu_seconds(master.pid), _cpu(sim), time.monotonic()
        time.sleep(idle_s)
        cpu1, sim1, t1 = procfs.cpu_seconds(master.pid), _cpu(sim), time.monotonic()
        mem = procfs.memory(master.pid)
        window = t1 - t0
        slaves = get_json(url + "/master/slaves")["slaves"]
        if sim is not None and not sim.alive():
            raise RuntimeError(f"the simulator died:\n{sim.log()[-3000:]}")
        return Point(
            agents=agents,
            register_s=register_s,
            window_s=window,
            cpu_pct=100 * (cpu1 - cpu0) / window,
            rss_mib=mem.rss_mib,
            hwm_mib=mem.hwm_mib,
            sim_cpu_pct=100 * (sim1 - sim0) / window if sim is not None else float("nan"),
            active_after=sum(1 for s in slaves if s["active"]),
        )
    finally:
        services.close()


def _cpu(proc: object) -> float:
    pid = getattr(proc, "pid", None)
    return procfs.cpu_seconds(pid) if pid is not None else 0.0


def verdict(points: list[Point]) -> str:
    """One line judging the 1,000-agent point against the target.

    >>> verdict([Point(1000, 2.0, 30.0, 1.25, 120.0, 150.0, 3.0, 1000)]).split(" (")[0]
    'met at 1,000 agents: 1.2% of one core'
    """
    at = [p for p in points if p.agents == TARGET_AGENTS]
    if not at:
        return "not judged: 1,000 agents were not measured in this run"
    p = at[0]
    cpu_ok, mem_ok = p.cpu_pct < CPU_TARGET, p.rss_mib < RSS_TARGET_MB
    if p.cpu_pct > 0:
        cpu_margin = (
            f"{CPU_TARGET / p.cpu_pct:.0f}x headroom"
            if cpu_ok
            else f"{p.cpu_pct / CPU_TARGET:.1f}x over"
        )
    else:
        cpu_margin = "unmeasurably low"
    mem_margin = (
        f"{100 * (1 - p.rss_mib / RSS_TARGET_MB):.0f}% under"
        if mem_ok
        else f"{100 * (p.rss_mib / RSS_TARGET_MB - 1):.0f}% over"
    )
    word = "met" if cpu_ok and mem_ok else "NOT met"
    return (
        f"{word} at 1,000 agents: {p.cpu_pct:.1f}% of one core (target < 5%, {cpu_margin}) "
        f"and {p.rss_mib:.0f} MB RSS (target < 300 MB, {mem_margin}); peak {p.hwm_mib:.0f} MB"
    )


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    counts = [int(c) for c in str(args.idle_agents).split(",") if c.strip()]
    started = now()
    points = []
    for n in counts:
        print(f"[{NAME}] {n} agents: starting ...", flush=True)
        point = measure(
            n, args.idle_seconds, args.settle_seconds, args.sim_heartbeat, workdir / f"agents-{n}"
        )
        print(
            f"[{NAME}] {n} agents: master {point.cpu_pct:.2f}% of one core, "
            f"RSS {point.rss_mib:.0f} MiB, peak {point.hwm_mib:.0f} MiB",
            flush=True,
        )
        points.append(point)
    table = Table(
        columns=(
            "agents",
            "all registered in (s)",
            "master CPU (% of one core)",
            "master RSS (MB)",
            "master VmHWM (MB)",
            "simulator CPU (% of one core)",
            "agents active after window",
        ),
        rows=tuple(
            (
                f"{p.agents:,}",
                fmt(p.register_s),
                fmt(p.cpu_pct, 2),
                fmt(p.rss_mib, 0),
                fmt(p.hwm_mib, 0),
                fmt(p.sim_cpu_pct, 1),
                f"{p.active_after:,}",
            )
            for p in points
        ),
        title=f"Idle window {args.idle_seconds:g} s after a {args.settle_seconds:g} s pause",
    )
    notes = (
        "MB here are MiB (2^20 bytes). VmHWM includes the registration burst.",
        (
            f"Simulated agents ping the master every {args.sim_heartbeat:g} s"
            + (" (as real agents do by default)" if args.sim_heartbeat == 15 else "")
            if args.sim_heartbeat
            else "Simulated agents do not ping the master (--sim-heartbeat 0)"
        )
        + "; the master pings each agent every 15 s (its default).",
        f"Marginal cost over the 0-agent baseline: {_per_agent(points)}.",
    )
    return Run(NAME, started, this_machine(), command, (table,), verdict(points), notes)


def _per_agent(points: list[Point]) -> str:
    base = next((p for p in points if p.agents == 0), None)
    top = max(points, key=lambda p: p.agents, default=None)
    if base is None or top is None or top.agents == 0:
        return "needs the 0-agent baseline and one other count"
    kib = (top.rss_mib - base.rss_mib) * 1024 / top.agents
    cpu = (top.cpu_pct - base.cpu_pct) / top.agents * 1000
    return (
        f"{kib:.0f} KiB of RSS per agent and {cpu:.2f}% of a core per 1,000 agents "
        f"(from the {top.agents:,}-agent point)"
    )
