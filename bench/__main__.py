"""``python -m bench [name ...]``: run benchmarks, print their tables, update the docs.

Without names, runs every benchmark. ``--list`` shows them. Each benchmark's run is
written into its section of docs/benchmarks.md unless ``--no-docs`` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from bench import (
    cluster_startup,
    docker_launch_latency,
    gateway_overhead,
    marathon_api_latency,
    marathon_launch,
    master_idle_agents,
    ui_services,
)
from bench.report import render_header, write_run

BENCHMARKS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        master_idle_agents,
        docker_launch_latency,
        marathon_launch,
        marathon_api_latency,
        cluster_startup,
        gateway_overhead,
        ui_services,
    )
}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--docs", type=Path, default=DOCS, help="the results file to update")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and data here")
    for module in BENCHMARKS.values():
        module.add_arguments(p)
    return p


# Options that say where output goes, not what is measured: left out of the rerun line.
_OUTPUT_OPTIONS = {"--docs": 1, "--workdir": 1, "--no-docs": 0}


def rerun_command(argv: Sequence[str], names: Sequence[str], name: str) -> str:
    """The command line that reruns just ``name`` with the same measuring options.

    >>> rerun_command(["a", "b", "--x", "1", "--docs", "/tmp/d.md"], ["a", "b"], "b")
    '.venv/bin/python -m bench b --x 1'
    """
    options: list[str] = []
    skip = 0
    for arg in argv:
        if skip:
            skip -= 1
        elif arg.split("=", 1)[0] in _OUTPUT_OPTIONS:
            skip = 0 if "=" in arg else _OUTPUT_OPTIONS[arg]
        elif arg not in names:
            options.append(arg)
    return " ".join([".venv/bin/python -m bench", name, *map(shlex.quote, options)])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if args.list:
        for name, module in BENCHMARKS.items():
            print(f"{name:24} {module.TITLE}")
        return 0
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; try --list", file=sys.stderr)
        return 2
    root = args.workdir or Path(tempfile.mkdtemp(prefix="berth-bench-"))
    print(f"logs and data under {root}", flush=True)
    for name in names:
        module = BENCHMARKS[name]
        load_before = os.getloadavg()[0]
        if load_before > 0.5:
            print(f"warning: load average {load_before:.2f}: figures will be noisy", flush=True)
        run = module.run(args, rerun_command(argv, args.names, name), root / name)
        load_note = (
            f"1-minute load average {load_before:.2f} before the run, "
            f"{os.getloadavg()[0]:.2f} after it (other work on the machine skews figures)."
        )
        run = dataclasses.replace(run, notes=(*run.notes, load_note))
        print()
        for table in run.tables:
            print(table.text())
            print()
        for note in run.notes:
            print(f"- {note}")
        print(f"verdict: {run.verdict}\n", flush=True)
        if not args.no_docs:
            header = render_header(name, module.TITLE, module.DESCRIPTION, module.TARGET)
            write_run(args.docs, name, header, run)
            print(f"updated {args.docs}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
