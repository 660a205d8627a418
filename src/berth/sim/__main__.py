"""``python -m berth.sim --master 127.0.0.1:5050 --agents 1000``: run simulated agents.

Prints one line when every agent has registered, then runs until interrupted (SIGINT or
SIGTERM), printing a summary on the way out (and every ``--stats-interval`` seconds if
asked).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict

from berth.core.errors import InvalidInput
from berth.core.resources import Resources
from berth.core.runtime import run_service, setup_logging
from berth.sim.agents import SimConfig, Simulation


def parse_args(argv: Sequence[str] | None = None) -> tuple[SimConfig, float]:
    """The simulation's configuration and the statistics interval (0: none)."""
    p = argparse.ArgumentParser(
        prog="python -m berth.sim", description="Run simulated Berth agents against a master."
    )
    p.add_argument(
        "--master",
        default=os.environ.get("BERTH_MASTER", "127.0.0.1:5050"),
        help="the master, as host:port (default: $BERTH_MASTER or 127.0.0.1:5050)",
    )
    p.add_argument("--agents", type=int, default=100, help="how many agents (default 100)")
    p.add_argument("--cpus", type=float, default=4, help="cpus per agent (default 4)")
    p.add_argument("--mem", type=float, default=8192, help="mem (MB) per agent (default 8192)")
    p.add_argument("--disk", type=float, default=10240, help="disk (MB) per agent")
    p.add_argument("--ports", default="31000-32000", help="port range per agent")
    p.add_argument(
        "--resources",
        default=None,
        help="full resources in agent syntax; overrides --cpus/--mem/--disk/--ports",
    )
    p.add_argument("--prefix", default="sim", help="hostnames are PREFIX-00000, PREFIX-00001 ...")
    p.add_argument("--ip", default="127.0.0.1", help="IP address the agents advertise")
    p.add_argument("--racks", type=int, default=10, help="spread over this many rack:rN values")
    p.add_argument(
        "--heartbeat",
        type=float,
        default=15.0,
        help="seconds between the agents' own pings to the master; 0 turns them off",
    )
    p.add_argument(
        "--concurrency", type=int, default=64, help="agents connecting at once (default 64)"
    )
    p.add_argument("--resend-backoff", type=float, default=10.0, help="first update resend delay")
    p.add_argument("--stats-interval", type=float, default=0.0, help="print statistics every N s")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    if args.agents < 0:
        p.error("--agents must be >= 0")
    text = args.resources or (
        f"cpus:{args.cpus};mem:{args.mem};disk:{args.disk};ports:[{args.ports}]"
    )
    try:
        resources = Resources.parse_text(text)
    except InvalidInput as e:
        p.error(f"resources: {e}")
    setup_logging(args.log_level)
    return SimConfig(
        master=args.master,
        agents=args.agents,
        resources=resources,
        hostname_prefix=args.prefix,
        ip=args.ip,
        racks=args.racks,
        heartbeat=args.heartbeat or None,
        connect_concurrency=args.concurrency,
        resend_backoff=args.resend_backoff,
    ), args.stats_interval


def _say(text: str) -> None:
    print(text, flush=True)


async def _main(config: SimConfig, stats_interval: float) -> None:
    sim = Simulation(config)
    ready = asyncio.Event()
    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sim.run(ready=ready))
            await ready.wait()
            _say(
                f"berth.sim: {config.agents} agents registered with {config.master} "
                f"in {time.monotonic() - started:.1f}s"
            )
            while stats_interval > 0:
                await asyncio.sleep(stats_interval)
                _say(f"berth.sim: {asdict(sim.statistics())}")
            await asyncio.Event().wait()
    finally:
        _say(f"berth.sim: stopping; {asdict(sim.statistics())}")


def main(argv: Sequence[str] | None = None) -> None:
    config, stats_interval = parse_args(argv)
    run_service(_main(config, stats_interval))


if __name__ == "__main__":
    main(sys.argv[1:])
