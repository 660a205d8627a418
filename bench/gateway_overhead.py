"""gateway-overhead: what a request pays for going through ``berth gateway``.

One master, one agent (process containerizer), ``berth marathon`` with 100 apps stored
(``instances: 0``, so ``/v2/apps`` has a realistic body) and ``berth gateway`` in front of
them. The same reads are sent straight to each service and through the gateway, over one
keep-alive ``http.client`` connection per route, the two routes taking turns request by
request so that drift on the machine hits both alike; each is timed from sending the
request to having read the whole body. The difference of the medians is what the gateway
adds.
"""

from __future__ import annotations

import argparse
import http.client
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.marathon_api_latency import app_definition, percentile, timed_get
from bench.marathon_launch import MarathonClient, close_services, start_marathon
from bench.report import Run, Table, fmt, now, this_machine
from bench.services import Services

NAME = "gateway-overhead"
TITLE = "latency added by the gateway, against the services directly"
DESCRIPTION = """
The same GET requests sent straight to marathon, the master and an agent, and through
`berth gateway` (`/service/marathon/...`, `/mesos/...`, `/agent/<id>/...`), sequentially
over one keep-alive connection per route, direct and gateway taking turns request by
request; each timed from sending the request to reading the last byte of the body.
Marathon holds 100 apps (`instances: 0`), so `GET /v2/apps` returns a realistic body.
"""
TARGET = "the gateway adds under 1 ms at the median to each of the reads."
TARGET_MS = 1.0
APPS = 100
AGENT_RESOURCES = "cpus:4;mem:4096;ports:[31500-31599]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument(
        "--gateway-requests", type=int, default=1000, help="timed requests per route (1000)"
    )


@dataclass
class Pair:
    """One read, straight to its service and through the gateway."""

    what: str
    direct: tuple[int, str]  # port, path
    gateway: str  # path on the gateway
    direct_seconds: list[float] = field(default_factory=list)
    gateway_seconds: list[float] = field(default_factory=list)
    size: int = 0

    @property
    def added_ms(self) -> float:
        return 1000 * (percentile(self.gateway_seconds, 0.5) - percentile(self.direct_seconds, 0.5))


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def measure(args: argparse.Namespace, workdir: Path) -> list[Pair]:
    workdir.mkdir(parents=True, exist_ok=True)
    services = Services(workdir)
    connections: list[http.client.HTTPConnection] = []
    try:
        _, master_url = services.start_master()
        _, agent_url = services.start_agent(
            master_url, AGENT_RESOURCES, "--containerizers", "process"
        )
        _, marathon_url = start_marathon(services, master_url)
        _, gateway_url = services.start_gateway(master_url, marathon_url)
        client = MarathonClient(marathon_url)
        for i in range(APPS):
            client.create(app_definition(i, 0))
        client.close()
        agent_id = requests.get(agent_url + "/state", timeout=10).json()["id"]
        pairs = [
            Pair(
                "marathon `GET /v2/info`",
                (_port(marathon_url), "/v2/info"),
                "/service/marathon/v2/info",
            ),
            Pair(
                f"marathon `GET /v2/apps` ({APPS} apps)",
                (_port(marathon_url), "/v2/apps"),
                "/service/marathon/v2/apps",
            ),
            Pair(
                "master `GET /master/state-summary`",
                (_port(master_url), "/master/state-summary"),
                "/mesos/master/state-summary",
            ),
            Pair("agent `GET /state`", (_port(agent_url), "/state"), f"/agent/{agent_id}/state"),
        ]

        def connect(port: int) -> http.client.HTTPConnection:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connections.append(conn)
            return conn

        routes = [(pair, connect(pair.direct[0]), connect(_port(gateway_url))) for pair in pairs]
        for _ in range(20):  # warm-up: connections, the gateway's agent lookup, caches
            for pair, direct, gateway in routes:
                timed_get(direct, pair.direct[1])
                timed_get(gateway, pair.gateway)
        for i in range(args.gateway_requests):
            for pair, direct, gateway in routes:
                # Alternate which goes first, so neither always follows the other.
                order = (
                    (direct, pair.direct[1], pair.direct_seconds),
                    (gateway, pair.gateway, pair.gateway_seconds),
                )
                for conn, path, seconds in order if i % 2 else reversed(order):
                    elapsed, pair.size = timed_get(conn, path)
                    seconds.append(elapsed)
            if (i + 1) % 250 == 0:
                print(f"[{NAME}] {i + 1}/{args.gateway_requests} rounds", flush=True)
        return pairs
    finally:
        for conn in connections:
            conn.close()
        close_services(services)


def verdict(pairs: list[Pair]) -> str:
    """One line judging the added median latency against the target.

    >>> p = Pair("x", (1, "/"), "/g", [0.001] * 5, [0.0015] * 5)
    >>> verdict([p])
    'met: the gateway adds 0.50 ms at the median at most (x); target < 1 ms'
    """
    if not pairs or not all(p.direct_seconds and p.gateway_seconds for p in pairs):
        return "not judged: nothing measured"
    worst = max(pairs, key=lambda p: p.added_ms)
    word = "met" if worst.added_ms < TARGET_MS else "NOT met"
    return (
        f"{word}: the gateway adds {worst.added_ms:.2f} ms at the median at most "
        f"({worst.what}); target < {TARGET_MS:g} ms"
    )


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    started = now()
    t0 = time.perf_counter()
    pairs = measure(args, workdir)
    rows = []
    for p in pairs:
        for route, seconds in (("direct", p.direct_seconds), ("gateway", p.gateway_seconds)):
            rows.append(
                (
                    p.what,
                    route,
                    str(len(seconds)),
                    *(fmt(1000 * percentile(seconds, q), 2) for q in (0.5, 0.9, 0.99)),
                    fmt(p.added_ms, 2) if route == "gateway" else "",
                )
            )
    table = Table(
        ("read", "route", "n", "p50 (ms)", "p90 (ms)", "p99 (ms)", "added p50 (ms)"),
        tuple(rows),
        title="The same reads, direct and through the gateway, taking turns",
    )
    notes = (
        f"{args.gateway_requests} timed requests per route after 20 unrecorded warm-up "
        f"rounds; whole run {time.perf_counter() - t0:.0f} s.",
        "The gateway forwards over a pooled aiohttp session; bodies are streamed, not buffered.",
    )
    return Run(NAME, started, this_machine(), command, (table,), verdict(pairs), notes)
