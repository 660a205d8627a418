"""marathon-api-latency: /v2 read latency with 1,000 apps stored, and how fast they go in.

One master, one real agent (process containerizer) and ``berth marathon``. The benchmark
creates N apps (default 1,000) one ``POST /v2/apps`` at a time over one keep-alive
connection, in groups of 100 (``/bench/g03/app-0317``): all but a few have
``instances: 0``; the few (default 10 apps x 5 instances) run ``sleep``, so ``/v2/tasks``
has something to list. Creation is timed (apps/s overall, and for the first and the last
100, which shows whether a create costs more as the store grows).

Once the running instances are all TASK_RUNNING, it sends sequential requests over one
keep-alive connection, the endpoints taking turns so drift hits them alike: ``GET
/v2/apps``, ``GET /v2/tasks``, ``GET /v2/apps?embed=apps.tasks`` and, for scale, one
app's ``GET /v2/apps/{id}``; each timed from sending the request to having read the whole
body (the JSON is not parsed inside the timing). Marathon's CPU over the series, from
/proc/<pid>/stat, is shown per request.
"""

from __future__ import annotations

import argparse
import http.client
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procfs
from bench.marathon_launch import MarathonClient, close_services, start_marathon
from bench.report import Run, Table, fmt, now, this_machine
from bench.services import Services
from tests.cluster import wait_for

NAME = "marathon-api-latency"
TITLE = "GET /v2/apps and /v2/tasks latency with 1,000 apps"
DESCRIPTION = """
Latency of marathon's read API with 1,000 apps stored: `GET /v2/apps`, `GET /v2/tasks`,
`GET /v2/apps?embed=apps.tasks` (and one app's `GET /v2/apps/{id}` for scale), sequential
requests over one keep-alive HTTP connection, the endpoints taking turns, each timed from
sending the request to reading the last byte of the body. The apps are created first
through the API, one `POST /v2/apps` at a time over one keep-alive connection, in groups
of 100: 990 with `instances: 0` and 10 with 5 instances each of `sleep` (process
containerizer, one real agent), so 50 tasks are running while the reads are measured.
Creation is reported as apps per second, overall and for the first and the last 100.
"""
TARGET = (
    "p99 under 50 ms for each of `GET /v2/apps`, `GET /v2/tasks` and "
    "`GET /v2/apps?embed=apps.tasks`."
)

P99_TARGET_MS = 50.0
AGENT_RESOURCES = "cpus:8;mem:8192;ports:[31500-31999]"
GROUP_SIZE = 100
JUDGED = ("/v2/apps", "/v2/tasks", "/v2/apps?embed=apps.tasks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--api-apps", type=int, default=1000, help="apps to store (1000)")
    group.add_argument(
        "--api-running-apps", type=int, default=10, help="of which with running tasks (10)"
    )
    group.add_argument(
        "--api-running-instances", type=int, default=5, help="instances of each of those (5)"
    )
    group.add_argument(
        "--api-requests", type=int, default=200, help="timed requests per endpoint (200)"
    )


def app_definition(i: int, instances: int) -> dict[str, Any]:
    """The ``i``-th app: a modest, realistic definition (labels, env, a port, a check)."""
    return {
        "id": f"/bench/g{i // GROUP_SIZE:02d}/app-{i:04d}",
        "cmd": "exec sleep 3600",
        "cpus": 0.01,
        "mem": 8,
        "instances": instances,
        "env": {"ROLE": "bench", "INDEX": str(i)},
        "labels": {"team": f"t{i % 7}", "tier": "web" if i % 2 else "api"},
        "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
    }


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1), linear between closest ranks.

    >>> percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.99)
    4.96
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 9)


@dataclass
class Endpoint:
    path: str
    seconds: list[float] = field(default_factory=list)
    size: int = 0


@dataclass
class Result:
    apps: int
    running: int
    create_seconds: float = math.nan
    create_latencies: list[float] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    cpu_per_request_ms: float = math.nan


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    """(seconds from sending ``GET path`` to having read the body, body bytes)."""
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "application/json"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    return elapsed, len(body)


def measure(args: argparse.Namespace, workdir: Path) -> Result:
    workdir.mkdir(parents=True, exist_ok=True)
    services = Services(workdir)
    result = Result(args.api_apps, args.api_running_apps * args.api_running_instances)
    client: MarathonClient | None = None
    conn: http.client.HTTPConnection | None = None
    try:
        _, master_url = services.start_master()
        services.start_agent(master_url, AGENT_RESOURCES, "--containerizers", "process")
        marathon, url = start_marathon(services, master_url)
        client = MarathonClient(url)
        # Spread the running apps over the id range rather than bunching them first.
        step = max(1, args.api_apps // max(1, args.api_running_apps))
        running = {i * step for i in range(min(args.api_running_apps, args.api_apps))}
        started = time.perf_counter()
        for i in range(args.api_apps):
            t0 = time.perf_counter()
            client.create(app_definition(i, args.api_running_instances if i in running else 0))
            result.create_latencies.append(time.perf_counter() - t0)
            if (i + 1) % 100 == 0:
                print(f"[{NAME}] {i + 1}/{args.api_apps} apps created", flush=True)
        result.create_seconds = time.perf_counter() - started

        def all_running() -> bool:
            reply = client.session.get(url + "/v2/tasks", timeout=30).json()
            states = [str(t["state"]) for t in reply["tasks"]]
            return states.count("TASK_RUNNING") >= result.running

        wait_for(all_running, f"{result.running} tasks to run", timeout=300, interval=0.5)
        wait_for(lambda: not client.deployments(), "the deployments to finish", timeout=120)

        one = app_definition(min(running, default=0), 0)["id"]
        paths = [*JUDGED, f"/v2/apps{one}"]
        result.endpoints = [Endpoint(p) for p in paths]
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=60)
        for _ in range(10):  # warm-up: connection, caches, first-request costs
            for endpoint in result.endpoints:
                timed_get(conn, endpoint.path)
        cpu0 = procfs.cpu_seconds(marathon.pid)
        for _ in range(args.api_requests):
            for endpoint in result.endpoints:
                seconds, endpoint.size = timed_get(conn, endpoint.path)
                endpoint.seconds.append(seconds)
        cpu = procfs.cpu_seconds(marathon.pid) - cpu0
        result.cpu_per_request_ms = 1000 * cpu / (args.api_requests * len(result.endpoints))
    finally:
        if conn is not None:
            conn.close()
        if client is not None:
            client.close()
        close_services(services)
    return result


def verdict(result: Result) -> str:
    """One line judging the p99 of the judged endpoints against the target.

    >>> fast = [Endpoint(p, [0.01] * 10) for p in JUDGED]
    >>> verdict(Result(1000, 50, endpoints=fast)).split(":")[0]
    'met with 1,000 apps'
    """
    judged = [e for e in result.endpoints if e.path in JUDGED and e.seconds]
    if not judged:
        return "not judged: nothing measured"
    p99 = {e.path: 1000 * percentile(e.seconds, 0.99) for e in judged}
    ok = all(v < P99_TARGET_MS for v in p99.values())
    worst = max(p99, key=lambda k: p99[k])
    parts = ", ".join(f"`{p}` {v:.1f} ms" for p, v in p99.items())
    word = "met" if ok else "NOT met"
    margin = (
        f"{P99_TARGET_MS / p99[worst]:.1f}x headroom on the slowest"
        if ok
        else f"`{worst}` {p99[worst] / P99_TARGET_MS:.1f}x over"
    )
    return f"{word} with {result.apps:,} apps: p99 {parts} (target < 50 ms; {margin})"


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    started = now()
    result = measure(args, workdir)
    latency = Table(
        ("request", "n", "body (KB)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)"),
        tuple(
            (
                f"`GET {e.path}`",
                str(len(e.seconds)),
                fmt(e.size / 1024, 1),
                *(fmt(1000 * percentile(e.seconds, q), 1) for q in (0.5, 0.9, 0.99)),
                fmt(1000 * max(e.seconds), 1) if e.seconds else "—",
            )
            for e in result.endpoints
        ),
        title=f"{result.apps:,} apps stored, {result.running} tasks running",
    )
    lat = result.create_latencies
    first, last = lat[:100], lat[-100:]
    creation = Table(
        ("apps created", "total (s)", "apps/s", "POST p50 (ms)", "POST p99 (ms)", "POST max (ms)"),
        tuple(
            (label, fmt(sum(part), 2), fmt(len(part) / sum(part), 0), *_ms3(part))
            for label, part in (
                (f"all {len(lat):,}", lat),
                ("first 100", first),
                (f"last 100 (with {max(0, len(lat) - 100):,} stored)", last),
            )
            if part
        ),
        title="Creating the apps (sequential POST /v2/apps, one keep-alive connection)",
    )
    notes = (
        f"{args.api_apps - args.api_running_apps:,} apps with `instances: 0`, "
        f"{args.api_running_apps} with {args.api_running_instances} instances of `sleep` "
        f"(process containerizer); apps in groups of {GROUP_SIZE} (`/bench/gNN/app-NNNN`).",
        f"Creation took {result.create_seconds:.1f} s in all "
        f"({args.api_apps / result.create_seconds:.0f} apps/s), including the client's time.",
        f"Marathon CPU per timed read request (all four kinds together): "
        f"{result.cpu_per_request_ms:.1f} ms; 10 unrecorded warm-up rounds first.",
    )
    return Run(NAME, started, this_machine(), command, (latency, creation), verdict(result), notes)


def _ms3(values: list[float]) -> tuple[str, str, str]:
    return (
        fmt(1000 * percentile(values, 0.5), 1),
        fmt(1000 * percentile(values, 0.99), 1),
        fmt(1000 * max(values), 1),
    )
