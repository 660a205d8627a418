"""marathon-launch: ``POST /v2/apps`` to every instance RUNNING, against the Engine API floor.

One master, one real agent (Docker containerizer, room for 100 small tasks) and
``berth marathon``. Each Berth sample: ``POST /v2/apps`` with N instances of a busybox
``httpd`` (Docker, HOST networking, ``httpd -f -p $PORT0``, 0.1 cpus, 8 MB), timed from
just before the POST to the arrival of the N-th distinct ``TASK_RUNNING``
``status_update_event`` on marathon's ``/v2/events`` stream (stamped by a reader thread
as it arrives); ``/v2/apps/{id}`` must then say ``tasksRunning == N``. The app is then
deleted and the round waits until its containers are gone (removing them itself, and
saying so in the notes, if the agent has not after ``--marathon-stop-timeout``).

The floor, interleaved round by round: the same N containers (same image, command, init,
host network, limits, sandbox bind mount) started straight through the Docker Engine
API with the same parallelism, N workers each making the calls the agent makes (image
inspect, create, start, inspect), timed until the last one runs; then removed.

Why 0.1 cpus and not less: the CPU quota applies from the moment the container's cgroup
exists, so runc's own setup inside it is throttled too; at 0.01 cpus starting one
container takes about 2 s on this kind of machine (0.05: 0.45 s; 0.1: 0.15-0.2 s), which
would bury the orchestration being measured under throttling. The agent declares 16 cpus
so 100 such tasks fit.

Every container carries a ``berth.bench=<run id>`` label (Berth's through the app's
labels) and is removed at the end, whatever happens. ``start_marathon``,
``MarathonClient`` and ``EventStream`` are shared with ``marathon-api-latency``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench import procfs
from bench.engine import ContainerEvents, Engine
from bench.report import Run, Table, fmt, now, this_machine
from bench.services import Services
from tests.cluster import Process, destroy_containers, free_port, wait_for

NAME = "marathon-launch"
TITLE = "POST /v2/apps to all instances RUNNING, against the Engine API floor"
DESCRIPTION = """
Time from just before `POST /v2/apps` to the moment marathon reports the last instance
TASK_RUNNING (the N-th distinct `TASK_RUNNING` `status_update_event` on `/v2/events`,
stamped as it arrives; `/v2/apps/{id}` then shows `tasksRunning == N`), for an app of 1
and of 100 instances of a busybox `httpd` (Docker, HOST networking, `httpd -f -p $PORT0`,
0.1 cpus, 8 MB: at 0.01 cpus the CPU quota throttles runc's own container setup to about
2 s) on one real agent (`--containerizers docker`, `cpus:16;mem:8192;ports:[31000-31499]`).
The app is deleted and its containers are gone before the next round. The floor,
interleaved round by round: the same containers started straight through the Docker
Engine API with the same parallelism (N concurrent workers, each making the agent's calls:
image inspect, create, start, inspect), until the last one runs. Berth/floor is the ratio
of the medians.
"""
TARGET = "Berth's median within 1.15x of the Engine API floor's, for 1 and for 100 instances."

RATIO_TARGET = 1.15
TASK_CPUS = 0.1
TASK_MEM = 8
PORT_RANGE = (31000, 31499)
AGENT_RESOURCES = f"cpus:16;mem:8192;ports:[{PORT_RANGE[0]}-{PORT_RANGE[1]}]"
SANDBOX = "/mnt/mesos/sandbox"
BENCH_LABEL = "berth.bench"
TASK_LABEL = "berth.task_id"  # the agent's label; the floor's containers carry one too
NAN = float("nan")

Event = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument(
        "--marathon-instances",
        default="1,100",
        help="comma-separated app sizes to launch (1,100)",
    )
    group.add_argument(
        "--marathon-repetitions",
        default="10,3",
        help="rounds per size, in the same order (10,3)",
    )
    group.add_argument(
        "--marathon-stop-timeout",
        type=float,
        default=30.0,
        help="seconds the agent gets to remove a deleted app's containers (30)",
    )
    group.add_argument(
        "--marathon-warmup", type=int, default=1, help="unrecorded 1-instance rounds first (1)"
    )


def busybox_image() -> str:
    """The busybox test image, built if needed."""
    from tests.images import ensure_busybox_image

    return ensure_busybox_image()


# --------------------------------------------------------------------------- marathon


def start_marathon(services: Services, master_url: str, *extra: str) -> tuple[Process, str]:
    """``berth marathon`` on a free port with its own data directory, once healthy."""
    port = free_port()
    argv = [sys.executable, "-m", "berth", "marathon", "--port", str(port)]
    argv += ["--master", master_url.removeprefix("http://")]
    argv += ["--data-dir", str(services.root / f"marathon-{port}"), *extra]
    proc = Process("marathon", argv, services.root / f"{len(services.processes):02d}-marathon.log")
    services.processes.append(proc)
    proc.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: requests.get(url + "/health", timeout=5).status_code == 200,
        f"marathon to be healthy\n{proc.log()}",
    )
    return proc, url


def close_services(services: Services) -> None:
    """Stop ``services`` and destroy what their agents left running (a stopped agent
    leaves its tasks running, to find them again when it restarts)."""
    services.close()
    for agent_dir in sorted(services.root.glob("agent-*")):
        destroy_containers(agent_dir)


@dataclass
class MarathonClient:
    """The few /v2 calls the benchmarks make, over one keep-alive session."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def create(self, app: dict[str, Any]) -> dict[str, Any]:
        r = self.session.post(self.url + "/v2/apps", json=app, timeout=60)
        if r.status_code != 201:
            raise RuntimeError(f"POST /v2/apps {app['id']}: {r.status_code} {r.text[:500]}")
        data: dict[str, Any] = r.json()
        return data

    def app(self, app_id: str) -> dict[str, Any] | None:
        r = self.session.get(f"{self.url}/v2/apps{app_id}", timeout=30)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        data: dict[str, Any] = r.json()["app"]
        return data

    def delete(self, app_id: str) -> None:
        r = self.session.delete(f"{self.url}/v2/apps{app_id}", timeout=60)
        if r.status_code not in (200, 404):
            raise RuntimeError(f"DELETE /v2/apps{app_id}: {r.status_code} {r.text[:500]}")

    def deployments(self) -> list[dict[str, Any]]:
        r = self.session.get(self.url + "/v2/deployments", timeout=30)
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()
        return data

    def close(self) -> None:
        self.session.close()


class EventStream:
    """Marathon's ``/v2/events``, read in a thread; every event stamped on arrival.

    Spoken as HTTP/1.0 over a plain socket, so the body ends when the server closes it
    and ``close`` unblocks the reader by shutting the socket down. ``running(app_id)``
    gives, per task id, the monotonic arrival time of its first TASK_RUNNING.
    """

    def __init__(self, url: str, event_types: tuple[str, ...] = ()) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self._address = (host, int(port or 80))
        types = (*event_types, "event_stream_attached") if event_types else ()
        query = "&".join(f"event_type={t}" for t in types)
        self._path = "/v2/events" + (f"?{query}" if query else "")
        self._cond = threading.Condition()
        # (app id, task state) -> task id -> arrival of the first such update
        self._firsts: dict[tuple[str, str], dict[str, float]] = {}
        self._failed: dict[str, int] = {}
        self._attached = False
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EventStream:
        sock = socket.create_connection(self._address, timeout=30)
        request = f"GET {self._path} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n"
        sock.sendall(request.encode())
        sock.settimeout(None)
        self._sock = sock
        self._thread = threading.Thread(target=self._read, name="sse", daemon=True)
        self._thread.start()
        self._wait(lambda: self._attached, "the event stream to attach", 30)
        return self

    def _read(self) -> None:
        sock = self._sock
        assert sock is not None
        buffer, data = b"", b""
        headers_done = False
        with contextlib.suppress(OSError):
            while chunk := sock.recv(1 << 16):
                received = time.monotonic()
                buffer += chunk
                if not headers_done:
                    head, sep, buffer = buffer.partition(b"\r\n\r\n")
                    if not sep:
                        buffer = head
                        continue
                    headers_done = True
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    line = line.rstrip(b"\r")
                    if line.startswith(b"data:"):
                        data = line[5:].strip()
                    elif not line and data:
                        self._add(json.loads(data), received)
                        data = b""
        with self._cond:
            self._cond.notify_all()

    def _add(self, event: Event, received: float) -> None:
        with self._cond:
            kind = event.get("eventType")
            if kind == "event_stream_attached":
                self._attached = True
            elif kind == "status_update_event":
                app_id, state = str(event.get("appId")), str(event.get("taskStatus"))
                firsts = self._firsts.setdefault((app_id, state), {})
                firsts.setdefault(str(event.get("taskId")), received)
                if state in ("TASK_FAILED", "TASK_ERROR", "TASK_LOST"):
                    self._failed[app_id] = self._failed.get(app_id, 0) + 1
            self._cond.notify_all()

    def _wait(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
                self._cond.wait(min(left, 1.0))

    def wait_running(self, app_id: str, n: int, timeout: float) -> dict[str, float]:
        """Task id -> arrival of its first TASK_RUNNING, once ``n`` tasks of ``app_id`` ran."""
        self._wait(
            lambda: len(self._firsts.get((app_id, "TASK_RUNNING"), {})) >= n,
            f"{n} tasks of {app_id} to run",
            timeout,
        )
        return self.arrivals(app_id, "TASK_RUNNING")

    def arrivals(self, app_id: str, state: str) -> dict[str, float]:
        """Task id -> arrival of its first ``state`` update, for the tasks of ``app_id``."""
        with self._cond:
            return dict(self._firsts.get((app_id, state), {}))

    def failures(self, app_id: str) -> int:
        with self._cond:
            return self._failed.get(app_id, 0)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(5)


# --------------------------------------------------------------------------- one round


@dataclass(frozen=True, slots=True)
class Sample:
    """One launch of ``n`` containers, in seconds from its start (NaN where unknown)."""

    n: int
    total: float  # until the last one runs (Berth: the last TASK_RUNNING arrived)
    first_create: float  # Engine event stamps
    last_start: float
    post_returned: float = NAN  # Berth only
    first_running: float = NAN  # Berth only: the first TASK_RUNNING arrived
    first_starting: float = NAN  # Berth only: TASK_STARTING arrivals (the agent is at work)
    last_starting: float = NAN
    failures: int = 0  # Berth only: tasks that failed and were replaced


def httpd_app(app_id: str, n: int, image: str, label: str) -> dict[str, Any]:
    return {
        "id": app_id,
        "cmd": "exec httpd -f -p $PORT0",
        "cpus": TASK_CPUS,
        "mem": TASK_MEM,
        "instances": n,
        "container": {"type": "DOCKER", "docker": {"image": image, "network": "HOST"}},
        "portDefinitions": [{"port": 0, "protocol": "tcp"}],
        "labels": {BENCH_LABEL: label},
    }


@dataclass
class Bench:
    client: MarathonClient
    events: EventStream
    engine: Engine
    engine_events: ContainerEvents
    image: str
    label: str
    workdir: Path
    pool: ThreadPoolExecutor
    stop_timeout: float = 30.0
    rounds: int = 0
    # (instances, containers left running) for each round the agent did not clean up
    stuck: list[tuple[int, int]] = field(default_factory=list)
    # Wall clock minus monotonic clock: turns monotonic stamps into Engine-comparable ones.
    wall_offset: float = field(default_factory=lambda: time.time() - time.monotonic())

    def _gone(self, what: str, label: str, timeout: float = 180.0) -> None:
        self.engine.wait_until(
            lambda: not self.engine.containers(label), what, timeout=timeout, interval=0.1
        )

    def _engine_span(self, keys: list[str], started: float) -> tuple[float, float]:
        """(first create, last start) of the containers of ``keys``, from ``started``."""
        creates, starts = [], []
        for key in keys:
            stamps = self.engine_events.times(key, "create", "start")
            creates.append(stamps.get("create", NAN))
            starts.append(stamps.get("start", NAN))
        wall = started + self.wall_offset
        return min(creates) - wall, max(starts) - wall

    def berth(self, n: int) -> Sample:
        self.rounds += 1
        app_id = f"/bench/launch-{self.rounds}-{n}"
        app = httpd_app(app_id, n, self.image, self.label)
        started = time.monotonic()
        self.client.create(app)
        returned = time.monotonic()
        running = self.events.wait_running(app_id, n, timeout=120 + 3 * n)
        ended = max(running.values())
        info = self.client.app(app_id)
        if info is None or info["tasksRunning"] != n:
            seen = None if info is None else info["tasksRunning"]
            raise RuntimeError(f"{app_id}: /v2/apps says tasksRunning={seen}, expected {n}")
        first_create, last_start = self._engine_span(list(running), started)
        starting = list(self.events.arrivals(app_id, "TASK_STARTING").values())
        sample = Sample(
            n=n,
            total=ended - started,
            first_create=first_create,
            last_start=last_start,
            post_returned=returned - started,
            first_running=min(running.values()) - started,
            first_starting=min(starting) - started if starting else NAN,
            last_starting=max(starting) - started if starting else NAN,
            failures=self.events.failures(app_id),
        )
        self.client.delete(app_id)
        mine = f"{BENCH_LABEL}={self.label}"
        try:
            self._gone(f"the containers of {app_id} to be removed", mine, self.stop_timeout)
        except TimeoutError:
            # The agent did not stop them (a bug worth seeing in the results, not a reason
            # to lose the run): kill them here, and let the agent, which then sees them
            # exit, report them ended and remove them itself (removing them from here
            # would race the agent's own removal).
            left = self.engine.containers(mine, running_only=True)
            self.stuck.append((n, len(left)))
            list(self.pool.map(_kill, left))
            self._gone(f"the containers of {app_id} to be removed", mine)
        wait_for(
            lambda: self.client.app(app_id) is None and not self.client.deployments(),
            f"{app_id} to be deleted",
            timeout=120,
        )
        return sample

    def floor(self, n: int) -> Sample:
        self.rounds += 1
        keys = [f"floor-{self.rounds}-{i}" for i in range(n)]
        configs = [
            floor_config(self.image, PORT_RANGE[0] + i, self.label, key, self.workdir / key)
            for i, key in enumerate(keys)
        ]
        started = time.monotonic()
        ids = list(self.pool.map(lambda c: launch_like_the_agent(self.image, c), configs))
        ended = time.monotonic()
        first_create, last_start = self._engine_span(keys, started)
        list(self.pool.map(lambda c: _engine().remove(c), ids))
        self._gone("the floor's containers to be removed", f"{BENCH_LABEL}={self.label}")
        return Sample(n=n, total=ended - started, first_create=first_create, last_start=last_start)


# --------------------------------------------------------------------------- the floor

_local = threading.local()


def _engine() -> Engine:
    """One keep-alive Engine connection per worker thread, as aiohttp keeps one per call."""
    engine: Engine | None = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = Engine()
    return engine


def _kill(container: str) -> None:
    """SIGKILL ``container``; one that is already gone or stopped is fine."""
    status, data = _engine().request("POST", f"/containers/{container}/kill")
    if status not in (204, 404, 409):
        raise RuntimeError(f"killing {container}: {status} {data}")


def floor_config(image: str, port: int, label: str, key: str, sandbox: Path) -> dict[str, Any]:
    """What the agent asks the Engine for (agent/containerizers/docker_config.py) for one
    instance of the app in ``httpd_app``, with host port ``port``."""
    memory = TASK_MEM * 2**20
    return {
        "Image": image,
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["exec httpd -f -p $PORT0"],
        "Env": [f"PORT0={port}", f"PORT={port}", f"PORTS={port}", "HOST=127.0.0.1"],
        "Labels": {BENCH_LABEL: label, TASK_LABEL: key},
        "HostConfig": {
            "Init": True,
            "Binds": [f"{sandbox}:{SANDBOX}:rw"],
            "NetworkMode": "host",
            "Privileged": False,
            "NanoCpus": round(TASK_CPUS * 1e9),
            "CpuShares": max(2, round(TASK_CPUS * 1024)),
            "Memory": memory,
            "MemorySwap": memory,
        },
    }


def launch_like_the_agent(image: str, config: dict[str, Any]) -> str:
    """The agent's Engine calls for one container: image inspect, create, start, inspect
    (until it runs). Returns the container id."""
    engine = _engine()
    sandbox = Path(config["HostConfig"]["Binds"][0].split(":", 1)[0])
    sandbox.mkdir(parents=True, exist_ok=True)
    engine.request("GET", f"/images/{image}/json")
    container = engine.create(config)
    engine.start(container)

    def running() -> bool:
        state = engine.inspect(container)["State"]
        if state["Status"] in ("exited", "dead"):
            raise RuntimeError(f"a floor container exited at once: {state}")
        return bool(state["Running"])

    engine.wait_until(running, "a floor container to run")
    return container


def busy_ports(first: int, last: int) -> list[int]:
    """Ports in ``first..last`` something already listens on (HOST networking needs them)."""
    busy = []
    for port in range(first, last + 1):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                busy.append(port)
    return busy


# --------------------------------------------------------------------------- the run


@dataclass
class Series:
    sizes: list[int]
    berth: dict[int, list[Sample]] = field(default_factory=dict)
    floor: dict[int, list[Sample]] = field(default_factory=dict)
    marathon_cpu: dict[int, list[float]] = field(default_factory=dict)
    stuck: list[tuple[int, int]] = field(default_factory=list)


def _sizes(args: argparse.Namespace) -> list[tuple[int, int]]:
    sizes = [int(s) for s in str(args.marathon_instances).split(",") if s.strip()]
    reps = [int(r) for r in str(args.marathon_repetitions).split(",") if r.strip()]
    if len(reps) < len(sizes):
        reps += [reps[-1] if reps else 3] * (len(sizes) - len(reps))
    if max(sizes, default=0) > PORT_RANGE[1] - PORT_RANGE[0] + 1:
        raise ValueError(f"at most {PORT_RANGE[1] - PORT_RANGE[0] + 1} instances fit the agent")
    return list(zip(sizes, reps, strict=False))


def measure(args: argparse.Namespace, workdir: Path) -> Series:
    workdir.mkdir(parents=True, exist_ok=True)
    plan = _sizes(args)
    busy = busy_ports(PORT_RANGE[0], PORT_RANGE[1])
    if busy:
        raise RuntimeError(
            f"ports {busy[:10]}{'...' if len(busy) > 10 else ''} of the agent's range "
            f"{PORT_RANGE[0]}-{PORT_RANGE[1]} are in use: the httpd tasks need them free"
        )
    series = Series([n for n, _ in plan])
    image = busybox_image()
    label = uuid.uuid4().hex[:10]
    engine = Engine()
    services = Services(workdir)
    engine_events = ContainerEvents(f"{BENCH_LABEL}={label}", TASK_LABEL)
    pool = ThreadPoolExecutor(max(n for n, _ in plan), thread_name_prefix="floor")
    client: MarathonClient | None = None
    events: EventStream | None = None
    try:
        _, master_url = services.start_master()
        services.start_agent(master_url, AGENT_RESOURCES, "--containerizers", "docker")
        marathon, url = start_marathon(services, master_url)
        client = MarathonClient(url)
        events = EventStream(url, ("status_update_event",)).start()
        bench = Bench(client, events, engine, engine_events, image, label, workdir, pool)
        bench.stop_timeout = args.marathon_stop_timeout
        series.stuck = bench.stuck
        for i in range(args.marathon_warmup):
            b, f = bench.berth(1), bench.floor(1)
            print(
                f"[{NAME}] warm-up {i + 1}/{args.marathon_warmup}: berth {b.total * 1000:.0f} ms, "
                f"floor {f.total * 1000:.0f} ms",
                flush=True,
            )
        for n, reps in plan:
            for rep in range(reps):
                # Alternate who goes first so drift and leftover Engine work hit both alike.
                cpu0 = procfs.cpu_seconds(marathon.pid)
                if rep % 2 == 0:
                    b = bench.berth(n)
                    cpu1 = procfs.cpu_seconds(marathon.pid)
                    f = bench.floor(n)
                else:
                    f = bench.floor(n)
                    cpu0 = procfs.cpu_seconds(marathon.pid)
                    b = bench.berth(n)
                    cpu1 = procfs.cpu_seconds(marathon.pid)
                series.berth.setdefault(n, []).append(b)
                series.floor.setdefault(n, []).append(f)
                series.marathon_cpu.setdefault(n, []).append(cpu1 - cpu0)
                print(
                    f"[{NAME}] {n} instance(s), round {rep + 1}/{reps}: "
                    f"berth {b.total * 1000:.0f} ms, floor {f.total * 1000:.0f} ms "
                    f"(x{b.total / f.total:.2f})",
                    flush=True,
                )
    finally:
        if events is not None:
            events.close()
        if client is not None:
            client.close()
        engine_events.close()
        close_services(services)
        pool.shutdown()
        left = engine.remove_labelled(f"{BENCH_LABEL}={label}")
        if left:
            print(f"[{NAME}] removed {left} leftover container(s)", flush=True)
        engine.close()
    return series


def ratio(berth: list[float], floor: list[float]) -> float:
    """Berth's median over the floor's.

    >>> ratio([2.0, 2.2, 9.0], [2.0, 1.0, 3.0])
    1.1
    """
    if not berth or not floor:
        return NAN
    return round(statistics.median(berth) / statistics.median(floor), 10)


def verdict(series: Series) -> str:
    parts, ok = [], True
    for n in series.sizes:
        r = ratio(
            [s.total for s in series.berth.get(n, [])], [s.total for s in series.floor.get(n, [])]
        )
        if r != r:
            return f"not judged: nothing measured for {n} instance(s)"
        ok = ok and r <= RATIO_TARGET
        b = statistics.median(s.total for s in series.berth[n])
        f = statistics.median(s.total for s in series.floor[n])
        parts.append(f"{n} instance(s) {b * 1000:.0f} ms vs floor {f * 1000:.0f} ms (x{r:.2f})")
    word = "met" if ok else "NOT met"
    return f"{word} (target x{RATIO_TARGET:.2f}): " + "; ".join(parts)


def _mmm(values: list[float]) -> tuple[str, str, str]:
    """min, median and max of ``values`` (seconds) in milliseconds, NaNs left out."""
    clean = [v for v in values if v == v]
    if not clean:
        return ("—", "—", "—")
    return (
        fmt(min(clean) * 1000, 0),
        fmt(statistics.median(clean) * 1000, 0),
        fmt(max(clean) * 1000, 0),
    )


def run(args: argparse.Namespace, command: str, workdir: Path) -> Run:
    started = now()
    series = measure(args, workdir)
    rows = []
    for n in series.sizes:
        berth = [s.total for s in series.berth.get(n, [])]
        floor = [s.total for s in series.floor.get(n, [])]
        rows.append((f"{n}", "Berth: POST -> last TASK_RUNNING", str(len(berth)), *_mmm(berth), ""))
        r = ratio(berth, floor)
        rows.append(
            (
                f"{n}",
                "floor: Engine API, same parallelism",
                str(len(floor)),
                *_mmm(floor),
                fmt(r, 2),
            )
        )
    latency = Table(
        ("instances", "what", "n", "min (ms)", "median (ms)", "max (ms)", "Berth/floor (medians)"),
        tuple(rows),
    )
    phase_rows = []
    for n in series.sizes:
        b = series.berth.get(n, [])
        f = series.floor.get(n, [])
        milestones: list[tuple[str, list[float]]] = [
            ("Berth: POST returned (201)", [s.post_returned for s in b]),
            ("Berth: first TASK_STARTING at marathon", [s.first_starting for s in b]),
            ("Berth: first container created (Engine event)", [s.first_create for s in b]),
            ("Berth: last TASK_STARTING at marathon", [s.last_starting for s in b]),
            ("Berth: first TASK_RUNNING at marathon", [s.first_running for s in b]),
            ("Berth: last container started (Engine event)", [s.last_start for s in b]),
            ("Berth: last TASK_RUNNING at marathon", [s.total for s in b]),
            ("floor: first container created (Engine event)", [s.first_create for s in f]),
            ("floor: last container started (Engine event)", [s.last_start for s in f]),
            ("floor: last inspect says running", [s.total for s in f]),
        ]
        phase_rows += [(f"{n}", what, *_mmm(values)) for what, values in milestones]
    phases = Table(
        (
            "instances",
            "milestone, from just before the POST / first call",
            "min (ms)",
            "median (ms)",
            "max (ms)",
        ),
        tuple(phase_rows),
    )
    from bench.docker_launch_latency import docker_version

    notes = [
        f"Docker Engine {docker_version()}; image berth-test/busybox; command "
        f"`exec httpd -f -p $PORT0`, HOST networking, {TASK_CPUS} cpus, {TASK_MEM} MB; "
        f"{args.marathon_warmup} unrecorded 1-instance warm-up round(s) of each first.",
        "Marathon CPU seconds per Berth round (median): "
        + ", ".join(
            f"{n} instance(s) {statistics.median(v):.2f} s"
            for n, v in series.marathon_cpu.items()
            if v
        )
        + ".",
    ]
    if series.stuck:
        notes.append(
            "The agent did not stop a deleted app's containers within "
            f"{args.marathon_stop_timeout:g} s in {len(series.stuck)} round(s) "
            f"((instances, containers still running): {series.stuck}); the benchmark "
            "killed them (SIGKILL through the Engine) and the agent then removed them."
        )
    failures = sum(s.failures for v in series.berth.values() for s in v)
    if failures:
        notes.append(f"{failures} task(s) failed during Berth rounds and were replaced.")
    return Run(
        NAME, started, this_machine(), command, (latency, phases), verdict(series), tuple(notes)
    )
