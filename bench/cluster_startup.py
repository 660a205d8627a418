"""cluster-startup: from typing ``berth up`` to a cluster that takes an app and runs it.

Each round spawns ``python -m berth up`` (process containerizer, one agent, fresh data
directory, free ports) and times, from the spawn:

1. ``ready``: the banner ("Berth is up") appears on its stdout;
2. ``accepts an app``: ``POST /service/marathon/v2/apps`` through the gateway (marathon
   directly with ``--startup-no-gateway``) answers 201, the request repeated every 10 ms
   until it does;
3. ``app running``: that app's one instance (``sleep``) shows TASK_RUNNING in
   ``/v2/apps/{id}/tasks``, polled every 10 ms.

Then SIGINT, timed until ``berth up`` has exited (every service stopped, the task
killed). Separately, the import cost each child would pay exec'd (``python -c "import
berth.cli.main, berth.<service>.service"``, the median of three) against the cost of
importing all of them once, which is what ``berth up`` pays before forking its children
(``berth.cli.up_fork``).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.report import Run, Table, fmt, now, summarize, this_machine
from tests.cluster import free_port

NAME = "cluster-startup"
TITLE = "`berth up` to a cluster that accepts and runs an app"
DESCRIPTION = """
Time from spawning `python -m berth up` (process containerizer, one agent, a fresh data
directory, free ports) to: the "Berth is up" banner; the gateway's
`POST /service/marathon/v2/apps` answering 201 (repeated every 10 ms until it does); and
that app's one `sleep` instance showing TASK_RUNNING. Then the time SIGINT takes to stop
everything (services and task). Several rounds, median and spread. A second table shows
what imports cost, the bulk of start-up on a small machine: each child's own
(`import berth.cli.main` plus its service module), as an exec'd child pays it, against
all of them imported once, which is what `berth up` pays before it forks the children.
"""
TARGET = (
    "the cluster accepts an app at the gateway in under 3 s (median, forked children) "
    "on a 2-core machine."
)
TARGET_SECONDS = 3.0
SERVICES = ("master", "agent", "marathon", "gateway")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--startup-rounds", type=int, default=5, help="rounds (5)")
    group.add_argument(
        "--startup-modes",
        default="fork,exec",
        help="how berth up starts its children, rounds alternating: fork (its default), "
        "exec (--no-fork) (fork,exec)",
    )
    group.add_argument(
        "--startup-no-gateway",
        action="store_true",
        help="start berth up --no-gateway and post to marathon directly",
    )


@dataclass
class Round:
    mode: str = "fork"
    ready: float = math.nan
    accepts: float = math.nan
    running: float = math.nan
    stop: float = math.nan
    exit_code: int | None = None


@dataclass
class Result:
    rounds: list[Round] = field(default_factory=list)
    imports: dict[str, float] = field(default_factory=dict)


def _watch_banner(stdout: object, started: float, out: Round, log: Path) -> threading.Thread:
    def read() -> None:
        with log.open("wb") as sink:
            for line in iter(stdout.readline, b""):  # type: ignore[attr-defined]
                if b"Berth is up" in line and math.isnan(out.ready):
                    out.ready = time.perf_counter() - started
                sink.write(line)
                sink.flush()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def one_round(workdir: Path, index: int, gateway: bool, mode: str) -> Round:
    root = workdir / f"round-{index}"
    root.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in SERVICES}
    low = 21000 + 40 * index
    argv = [
        sys.executable, "-m", "berth", "up",
        "--data-dir", str(root / "data"),
        "--containerizer", "process",
        "--master-port", str(ports["master"]),
        "--agent-port", str(ports["agent"]),
        "--marathon-port", str(ports["marathon"]),
        "--gateway-port", str(ports["gateway"]),
        "--task-ports", f"{low}-{low + 39}",
    ]  # fmt: skip
    if not gateway:
        argv.append("--no-gateway")
    if mode == "exec":
        argv.append("--no-fork")
    base = (
        f"http://127.0.0.1:{ports['gateway']}/service/marathon"
        if gateway
        else f"http://127.0.0.1:{ports['marathon']}"
    )
    app = {"id": "/bench-startup", "cmd": "sleep 1000", "cpus": 0.05, "mem": 16}
    result = Round(mode)
    session = requests.Session()
    started = time.perf_counter()
    up = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    reader = _watch_banner(up.stdout, started, result, root / "up.log")
    try:
        deadline = started + 120
        while time.perf_counter() < deadline and up.poll() is None:
            try:
                r = session.post(
                    base + "/v2/apps",
                    data=json.dumps(app),
                    headers={"Content-Type": "application/json"},
                    timeout=5,
                )
                if r.status_code == 201:
                    result.accepts = time.perf_counter() - started
                    break
            except requests.RequestException:
                pass
            time.sleep(0.01)
        while time.perf_counter() < deadline and up.poll() is None:
            try:
                tasks = session.get(base + "/v2/apps/bench-startup/tasks", timeout=5).json()
                if any(t["state"] == "TASK_RUNNING" for t in tasks.get("tasks", [])):
                    result.running = time.perf_counter() - started
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.01)
    finally:
        stopping = time.perf_counter()
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
        try:
            result.exit_code = up.wait(90)
            result.stop = time.perf_counter() - stopping
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(10)
        reader.join(10)
        session.close()
    return result


def import_seconds(*services: str) -> float:
    """Median of three: seconds to import the CLI and the ``services``' modules."""
    modules = ", ".join(f"berth.{s}.service" for s in services)
    code = (
        "import time; t = time.perf_counter(); "
        f"import berth.cli.main, {modules}; "
        "print(time.perf_counter() - t)"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
        )
        runs.append(float(out.stdout))
    runs.sort()
    return runs[1]


def measure(args: argparse.Namespace, workdir: Path) -> Result:
    workdir.mkdir(parents=True, exist_ok=True)
    result = Result()
    for service in SERVICES:
        result.imports[f"`berth {service}`"] = import_seconds(service)
    result.imports["all four at once (`berth up` before forking)"] = import_seconds(*SERVICES)
    modes = [m.strip() for m in args.startup_modes.split(",") if m.strip()]
    for i in range(args.startup_rounds * len(modes)):
        mode = modes[i % len(modes)]
        r = one_round(workdir, i, not args.startup_no_gateway, mode)
        print(
            f"[{NAME}] round {i + 1} ({mode}): ready {r.ready:.2f} s, accepts {r.accepts:.2f} s, "
            f"running {r.running:.2f} s, stop {r.stop:.2f} s (exit {r.exit_code})",
            flush=True,
        )
        result.rounds.append(r)
    return result


def verdict(result: Result) -> str:
    """Judge the median time to accepting an app against the target.

    >>> verdict(Result([Round("fork", 2.0, 2.1, 2.5, 1.0, 0)] * 3)).split(";")[0]
    'met: median 2.10 s to accepting an app (target < 3 s)'
    """
    accepts = [r.accepts for r in result.rounds if r.mode == "fork" and not math.isnan(r.accepts)]
    if not accepts:
        return "not judged: no round got an app accepted"
    s = summarize(accepts)
    word = "met" if s.median < TARGET_SECONDS else "NOT met"
    failed = sum(1 for r in result.rounds if r.mode == "fork") - len(accepts)
    return (
        f"{word}: median {s.median:.2f} s to accepting an app (target < 3 s); "
        f"range {s.min:.2f}-{s.max:.2f} s over {s.n} rounds"
        + (f"; {failed} rounds failed" if failed else "")
    )


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    started = now()
    result = measure(args, workdir)
    rows = []
    for mode in dict.fromkeys(r.mode for r in result.rounds):
        rounds = [r for r in result.rounds if r.mode == mode]
        for label, values in (
            ("banner: Berth is up", [r.ready for r in rounds]),
            ("accepts an app (POST 201)", [r.accepts for r in rounds]),
            ("app's instance TASK_RUNNING", [r.running for r in rounds]),
            ("SIGINT to exited (all stopped)", [r.stop for r in rounds]),
        ):
            s = summarize([v for v in values if not math.isnan(v)])
            rows.append(
                (
                    mode,
                    label,
                    str(s.n),
                    *(fmt(v, 2) for v in (s.median, s.min, s.p90, s.max)),
                )
            )
    timeline = Table(
        (
            "children",
            "from spawning berth up to",
            "n",
            "median (s)",
            "min (s)",
            "p90 (s)",
            "max (s)",
        ),
        tuple(rows),
        title="One agent, process containerizer, fresh data directory each round",
    )
    imports = Table(
        ("imported", "seconds"),
        tuple((name, fmt(sec, 2)) for name, sec in result.imports.items()),
        title="Imports: `berth.cli.main` and each service module, then all of them at once",
    )
    codes = sorted({r.exit_code for r in result.rounds}, key=str)
    notes = (
        f"{len(result.rounds)} rounds, the modes alternating; `berth up` exit statuses "
        f"after SIGINT: {codes}.",
        "fork (berth up's default): berth up imports each service's modules once, forking "
        "each child as soon as its modules are in; exec (`berth up --no-fork`): each child "
        "is `python -m berth ...`, importing on its own. The verdict judges fork.",
    )
    return Run(NAME, started, this_machine(), command, (timeline, imports), verdict(result), notes)
