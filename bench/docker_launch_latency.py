"""docker-launch-latency: from an offer to TASK_RUNNING for a Docker task, against baselines.

One master and one real agent (Docker containerizer), a framework speaking the v1
scheduler API (tests/framework.py, with every event stamped on arrival). Each Berth
sample: take a fresh offer, ACCEPT a task running the busybox test image, and time until
TASK_RUNNING arrives; then kill it and wait until its container is gone. Side by side,
interleaved round by round so drift hits all alike:

- ``docker run -d`` of the same container (same image, command, init, host network, cpu
  and memory limits, sandbox bind mount): until the CLI returns, and until the Engine's
  inspect says it runs;
- the Engine API calls the agent itself makes (image inspect, create, start, inspect),
  straight from this process: the floor for any agent built on the Engine API;
- Docker Swarm (``docker swarm init`` on this node; ``docker service create
  --detach=false``): until the task's container runs, and until the CLI returns. The swarm
  is left afterwards.

Every container carries a ``berth.bench=<run id>`` label and is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.engine import ContainerEvents, Engine
from bench.report import Run, Summary, Table, fmt, now, summarize, this_machine
from bench.services import Services
from tests.framework import Framework, docker_container, task_info

NAME = "docker-launch-latency"
TITLE = "offer to TASK_RUNNING for a Docker task, against docker run and Swarm"
DESCRIPTION = """
Time from the framework receiving an offer to receiving TASK_RUNNING for a Docker task
(the busybox test image running `sleep 1000`), over N sequential launches on one real
agent, each killed and its container removed before the next. In the same run,
interleaved round by round: a bare `docker run -d` of the same container (until it returns,
and until the Engine's inspect reports it running), the Engine API calls the agent itself
makes (image inspect, create, start, inspect: the floor for an Engine-API agent), and a
single-node Docker Swarm (`docker service create --detach=false`: until the task's
container runs, and until the CLI returns). Berth's overhead is its median over the median
of `docker run -d` until running.
"""
TARGET = "Berth's median offer-to-RUNNING within 10% of a bare `docker run -d` until running."

OVERHEAD_TARGET_PCT = 10.0
TASK_CPUS = 0.1
TASK_MEM = 32
AGENT_RESOURCES = "cpus:2;mem:1024;ports:[31000-31100]"
SANDBOX = "/mnt/mesos/sandbox"

Event = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--launches", type=int, default=20, help="samples of each kind (20)")
    group.add_argument("--warmup", type=int, default=2, help="unrecorded rounds first (2)")
    group.add_argument(
        "--launch-command", default="sleep 1000", help="the task's shell command (sleep 1000)"
    )
    group.add_argument("--no-swarm", action="store_true", help="skip the Docker Swarm series")


def busybox_image() -> str:
    """The busybox test image, built if needed."""
    from tests.images import ensure_busybox_image

    return ensure_busybox_image()


# --------------------------------------------------------------------------- Berth


class StampedQueue(queue.Queue[Event]):
    """The framework's event queue, stamping each event with its monotonic arrival time
    (``_received``) in the reader thread, before anything else looks at it."""

    def put(self, item: Event, block: bool = True, timeout: float | None = None) -> None:
        item["_received"] = time.monotonic()
        super().put(item, block, timeout)


NAN = float("nan")


@dataclass
class BerthSample:
    offer_to_accept: float
    accept_to_starting: float
    starting_to_running: float
    total: float
    # From the Engine's own event stamps (NaN if an event was missed).
    accept_to_create: float = NAN
    create_to_start: float = NAN
    start_to_running: float = NAN


@dataclass
class Scheduler:
    """Drives ``Framework`` by hand: acknowledges updates as they are read, keeps offers
    that arrive while it waits for something else, declines them (without a filter) before
    the next launch so each launch starts from a freshly received offer."""

    fw: Framework
    label: str
    image: str
    command: str
    engine: Engine
    events: ContainerEvents
    stale_offers: list[Event] = field(default_factory=list)
    # Wall clock minus monotonic clock: turns arrival stamps into Engine-comparable times.
    wall_offset: float = field(default_factory=lambda: time.time() - time.monotonic())

    def next_event(self, timeout: float = 60.0) -> Event:
        try:
            event = self.fw.events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event from the master within {timeout:g}s") from None
        if event["type"] == "UPDATE" and "uuid" in event["update"]["status"]:
            self.fw.acknowledge(event["update"]["status"])
        return event

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                event = self.fw.events.get_nowait()
                if event["type"] == "UPDATE" and "uuid" in event["update"]["status"]:
                    self.fw.acknowledge(event["update"]["status"])
                elif event["type"] == "OFFERS":
                    self.stale_offers.extend(event["offers"]["offers"])
        for offer in self.stale_offers:
            self.fw.decline(offer, refuse_seconds=0)
        self.stale_offers.clear()

    def fresh_offer(self) -> tuple[Event, float]:
        self._drain()
        while True:
            event = self.next_event()
            if event["type"] == "OFFERS":
                first, *others = event["offers"]["offers"]
                self.stale_offers.extend(others)
                return first, float(event["_received"])

    def launch(self) -> BerthSample:
        offer, received = self.fresh_offer()
        task = task_info(
            offer,
            name="bench",
            cpus=TASK_CPUS,
            mem=TASK_MEM,
            command=self.command,
            container=docker_container(self.image),
            labels={"labels": [{"key": "berth.bench", "value": self.label}]},
        )
        task_id = task["task_id"]["value"]
        accepted = time.monotonic()
        # Leftovers are filtered for a minute; the kill frees a larger offer at once.
        self.fw.launch(offer, task, refuse_seconds=60)
        starting = self.wait_state(task_id, "TASK_STARTING", "TASK_RUNNING")
        running = (
            starting if starting[0] == "TASK_RUNNING" else self.wait_state(task_id, "TASK_RUNNING")
        )
        self.fw.kill(task_id)
        self.wait_state(task_id, "TASK_KILLED")
        self.engine.wait_until(
            lambda: not self.engine.containers(f"berth.task_id={task_id}"),
            f"the container of {task_id} to be removed",
        )
        engine = self.events.times(task_id, "create", "start")
        create, start = engine.get("create", NAN), engine.get("start", NAN)
        return BerthSample(
            offer_to_accept=accepted - received,
            accept_to_starting=starting[1] - accepted,
            starting_to_running=running[1] - starting[1],
            total=running[1] - received,
            accept_to_create=create - (accepted + self.wall_offset),
            create_to_start=start - create,
            start_to_running=running[1] + self.wall_offset - start,
        )

    def wait_state(self, task_id: str, *states: str) -> tuple[str, float]:
        """The first of ``states`` reported for ``task_id``, and when it arrived."""
        while True:
            event = self.next_event()
            if event["type"] == "OFFERS":
                self.stale_offers.extend(event["offers"]["offers"])
                continue
            if event["type"] != "UPDATE":
                continue
            status = event["update"]["status"]
            if status["task_id"]["value"] != task_id:
                continue
            if status["state"] in states:
                return status["state"], float(event["_received"])
            if status["state"] not in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"):
                raise RuntimeError(f"task {task_id} ended {status['state']}: {status}")


# --------------------------------------------------------------------------- baselines


def _container_config(image: str, command: str, label: str, sandbox: Path) -> dict[str, Any]:
    """What the agent asks the Engine for (see agent/containerizers/docker_config.py)."""
    memory = TASK_MEM * 2**20
    return {
        "Image": image,
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": [command],
        "Labels": {"berth.bench": label},
        "HostConfig": {
            "Init": True,
            "Binds": [f"{sandbox}:{SANDBOX}:rw"],
            "NetworkMode": "host",
            "NanoCpus": round(TASK_CPUS * 1e9),
            "CpuShares": max(2, round(TASK_CPUS * 1024)),
            "Memory": memory,
            "MemorySwap": memory,
        },
    }


def docker_run(
    engine: Engine, image: str, command: str, label: str, sandbox: Path
) -> tuple[float, float]:
    """(until ``docker run -d`` returns, until inspect says running), in seconds."""
    sandbox.mkdir(parents=True, exist_ok=True)
    argv = ["docker", "run", "-d", "--init", "--network", "host"]
    argv += ["--cpus", str(TASK_CPUS), "--cpu-shares", str(max(2, round(TASK_CPUS * 1024)))]
    argv += ["--memory", f"{TASK_MEM}m", "--memory-swap", f"{TASK_MEM}m"]
    argv += ["-v", f"{sandbox}:{SANDBOX}:rw", "--label", f"berth.bench={label}"]
    argv += ["--entrypoint", "/bin/sh", image, "-c", command]
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    returned = time.monotonic()
    if out.returncode != 0:
        raise RuntimeError(f"docker run failed: {out.stderr}")
    container = out.stdout.strip()
    try:
        running = engine.wait_until(lambda: engine.running(container), "docker run's container")
    finally:
        engine.remove(container)
    return returned - started, running - started


def engine_api(engine: Engine, image: str, command: str, label: str, sandbox: Path) -> float:
    """The agent's own Engine calls, timed from here: image inspect, create, start, inspect."""
    sandbox.mkdir(parents=True, exist_ok=True)
    config = _container_config(image, command, label, sandbox)
    started = time.monotonic()
    engine.request("GET", f"/images/{image}/json")
    container = engine.create(config)
    try:
        engine.start(container)
        running = engine.wait_until(lambda: engine.running(container), "the API's container")
    finally:
        engine.remove(container)
    return running - started


def swarm_state() -> str:
    out = subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def swarm_service(
    engine: Engine, image: str, command: str, label: str, name: str
) -> tuple[float, float]:
    """(until the service's container runs, until ``service create --detach=false`` returns)."""
    argv = ["docker", "service", "create", "--detach=false", "--no-resolve-image", "--init"]
    argv += ["--name", name, "--network", "host", "--container-label", f"berth.bench={label}"]
    argv += ["--limit-cpu", str(TASK_CPUS), "--limit-memory", f"{TASK_MEM}m"]
    argv += ["--entrypoint", "/bin/sh", image, "-c", command]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    service_label = f"com.docker.swarm.service.name={name}"
    try:
        running = engine.wait_until(
            lambda: engine.containers(service_label, running_only=True),
            f"service {name} to run",
            interval=0.005,
        )
        _, err = proc.communicate(timeout=120)
        returned = time.monotonic()
        if proc.returncode != 0:
            raise RuntimeError(f"docker service create failed: {err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["docker", "service", "rm", name], capture_output=True, timeout=60)
    engine.wait_until(
        lambda: not engine.containers(service_label), f"service {name}'s container to go", 60, 0.05
    )
    return running - started, returned - started


# --------------------------------------------------------------------------- the run


@dataclass
class Series:
    berth: list[BerthSample] = field(default_factory=list)
    run_return: list[float] = field(default_factory=list)
    run_running: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    swarm_running: list[float] = field(default_factory=list)
    swarm_return: list[float] = field(default_factory=list)
    swarm_note: str = ""


def measure(args: argparse.Namespace, workdir: Path) -> Series:
    workdir.mkdir(parents=True, exist_ok=True)
    image = busybox_image()
    label = uuid.uuid4().hex[:10]
    engine = Engine()
    services = Services(workdir)
    series = Series()
    fw: Framework | None = None
    swarm_created = False
    events = ContainerEvents(f"berth.bench={label}", "berth.task_id")
    try:
        _, master_url = services.start_master()
        services.start_agent(master_url, AGENT_RESOURCES, "--containerizers", "docker")
        fw = Framework(master_url, name="bench-docker-launch", auto_ack=False)
        fw.events = StampedQueue()
        fw.subscribe()
        scheduler = Scheduler(fw, label, image, args.launch_command, engine, events)
        total = args.warmup + args.launches
        for i in range(total):
            record = i >= args.warmup
            sample = scheduler.launch()
            returned, running = docker_run(
                engine, image, args.launch_command, label, workdir / f"sandbox-run-{i}"
            )
            api = engine_api(
                engine, image, args.launch_command, label, workdir / f"sandbox-api-{i}"
            )
            if record:
                series.berth.append(sample)
                series.run_return.append(returned)
                series.run_running.append(running)
                series.api.append(api)
            print(
                f"[{NAME}] {'round' if record else 'warm-up'} {i + 1}/{total}: "
                f"berth {sample.total * 1000:.0f} ms, docker run {running * 1000:.0f} ms, "
                f"engine API {api * 1000:.0f} ms",
                flush=True,
            )
        fw.teardown()
        fw = None

        if args.no_swarm:
            series.swarm_note = "Swarm skipped (--no-swarm)."
        elif (state := swarm_state()) != "inactive":
            series.swarm_note = (
                f"Swarm skipped: this node's swarm state is {state!r}, not ours to touch."
            )
        else:
            init = subprocess.run(
                ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if init.returncode != 0:
                series.swarm_note = (
                    f"Swarm skipped: docker swarm init failed: {init.stderr.strip()}"
                )
            else:
                swarm_created = True
                for i in range(total):
                    name = f"berth-bench-{label}-{i}"
                    running, returned = swarm_service(
                        engine, image, args.launch_command, label, name
                    )
                    if i >= args.warmup:
                        series.swarm_running.append(running)
                        series.swarm_return.append(returned)
                    print(
                        f"[{NAME}] swarm {i + 1}/{total}: running {running * 1000:.0f} ms, "
                        f"CLI returned {returned * 1000:.0f} ms",
                        flush=True,
                    )
    finally:
        events.close()
        if fw is not None:
            with contextlib.suppress(Exception):
                fw.teardown()
        services.close()
        if swarm_created:
            subprocess.run(
                ["docker", "swarm", "leave", "--force"], capture_output=True, timeout=120
            )
        left = engine.remove_labelled(f"berth.bench={label}")
        if left:
            print(f"[{NAME}] removed {left} leftover container(s)", flush=True)
        engine.close()
    return series


def _ms(s: Summary) -> tuple[str, ...]:
    return (str(s.n), *(fmt(v * 1000, 0) for v in (s.min, s.median, s.p90, s.max)))


def overhead_pct(berth_median: float, baseline_median: float) -> float:
    """Berth's median over the baseline's, in percent.

    >>> overhead_pct(1.1, 1.0)
    10.000000000000009
    """
    return 100 * (berth_median - baseline_median) / baseline_median


def verdict(berth: Summary, baseline: Summary) -> str:
    if berth.n == 0 or baseline.n == 0:
        return "not judged: nothing measured"
    pct = overhead_pct(berth.median, baseline.median)
    word = "met" if pct < OVERHEAD_TARGET_PCT else "NOT met"
    if pct < OVERHEAD_TARGET_PCT:
        by = f"{OVERHEAD_TARGET_PCT - pct:.0f} points under the 10% target"
    else:
        by = f"{pct - OVERHEAD_TARGET_PCT:.0f} points over the 10% target"
    return (
        f"{word}: Berth median {berth.median * 1000:.0f} ms vs `docker run -d` until running "
        f"{baseline.median * 1000:.0f} ms, overhead {pct:+.0f}% ({by})"
    )


def docker_version() -> str:
    out = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip() or "unknown"


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    started = now()
    series = measure(args, workdir)
    berth = summarize([s.total for s in series.berth])
    run_running = summarize(series.run_running)
    rows = [
        ("Berth: offer received -> TASK_RUNNING received", *_ms(berth)),
        ("`docker run -d`: until it returns", *_ms(summarize(series.run_return))),
        ("`docker run -d`: until inspect says running", *_ms(run_running)),
        ("Engine API: image inspect, create, start, inspect", *_ms(summarize(series.api))),
    ]
    if series.swarm_running:
        rows += [
            (
                "Swarm `service create`: until its container runs",
                *_ms(summarize(series.swarm_running)),
            ),
            (
                "Swarm `service create --detach=false`: until it returns",
                *_ms(summarize(series.swarm_return)),
            ),
        ]
    latency = Table(("what", "n", "min (ms)", "median (ms)", "p90 (ms)", "max (ms)"), tuple(rows))
    phases = [
        ("offer -> ACCEPT sent (framework)", [s.offer_to_accept for s in series.berth]),
        ("ACCEPT sent -> TASK_STARTING received", [s.accept_to_starting for s in series.berth]),
        ("TASK_STARTING -> TASK_RUNNING received", [s.starting_to_running for s in series.berth]),
        (
            "ACCEPT sent -> container created (Engine event)",
            [s.accept_to_create for s in series.berth],
        ),
        ("container created -> started (Engine events)", [s.create_to_start for s in series.berth]),
        ("container started -> TASK_RUNNING received", [s.start_to_running for s in series.berth]),
    ]
    breakdown = Table(
        ("Berth phase", "n", "min (ms)", "median (ms)", "p90 (ms)", "max (ms)"),
        tuple((what, *_ms(summarize([v for v in values if v == v]))) for what, values in phases),
    )
    notes = [
        f"Docker Engine {docker_version()}; image berth-test/busybox; "
        f"command `{args.launch_command}`."
    ]
    if run_running.n and berth.n:
        api = summarize(series.api)
        median = overhead_pct(berth.median, run_running.median)
        p90 = overhead_pct(berth.p90, run_running.p90)
        over_api = overhead_pct(berth.median, api.median)
        notes.append(
            f"Overhead over `docker run -d` until running: {median:+.0f}% (median), "
            f"{p90:+.0f}% (p90); over the bare Engine API calls: {over_api:+.0f}% (median)."
        )
    if series.swarm_note:
        notes.append(series.swarm_note)
    return Run(
        NAME,
        started,
        this_machine(),
        command,
        (latency, breakdown),
        verdict(berth, run_running),
        tuple(notes),
    )
