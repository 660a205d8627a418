"""``berth up``'s children as processes: start, wait until ready, restart, stop in order.

    start_all ──> wait_ready ──> supervise (restart with backoff) ──> stop (in waves)

Each child runs in its own session (a Ctrl-C in the terminal reaches ``berth up`` only,
which then stops the children in ``up_plan.STOP_WAVES`` order) and writes its log to
``<data dir>/logs/<name>.log``. A child that will not stop in time is killed; if it was
an agent, the containers and processes of its tasks are then destroyed from here, so a
stopped ``berth up`` leaves nothing running whatever happened to its children.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from berth.cli.up_plan import ChildSpec, Kind, not_ready_yet, stop_waves
from berth.cli.up_probe import http_get, http_json

RESTART_BACKOFF_FIRST = 0.5
RESTART_BACKOFF_MAX = 30.0
RESTART_RESET_AFTER = 60.0  # a child that ran this long starts its backoff afresh
STOP_TIMEOUT = {Kind.AGENT: 60.0}  # agents kill their tasks first (grace periods)
DEFAULT_STOP_TIMEOUT = 15.0


def say(message: str) -> None:
    """A line for the person running ``berth up`` (stderr: stdout is the banner)."""
    print(f"berth up: {message}", file=sys.stderr, flush=True)


def describe_exit(code: int) -> str:
    """How a child ended, in words.

    >>> describe_exit(1), describe_exit(-9)
    ('exited with status 1', 'was killed by SIGKILL')
    """
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


def restart_delay(restarts: int) -> float:
    """Seconds before restart number ``restarts`` (1-based): 0.5, 1, 2, ... up to 30.

    >>> [restart_delay(n) for n in (1, 2, 3, 10)]
    [0.5, 1.0, 2.0, 30.0]
    """
    return min(RESTART_BACKOFF_MAX, RESTART_BACKOFF_FIRST * 2.0 ** max(0, restarts - 1))


class StartupFailed(Exception):
    """A child ended, or the cluster did not become ready, while starting."""


class ChildProcess(Protocol):
    """What the supervisor needs of a child process: ``asyncio.subprocess.Process``
    (exec'd) or ``up_fork.ForkedProcess`` (forked)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...


@dataclass(slots=True)
class Child:
    spec: ChildSpec
    process: ChildProcess | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def adopt(self, process: ChildProcess) -> None:
        """``process`` (already started, e.g. forked) is this child."""
        self.process = process
        self.started_at = time.monotonic()

    async def start(self) -> None:
        """Exec ``python -m berth <args>`` as this child."""
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log_path.open("ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"---- berth up started {self.spec.name} at {stamp}\n".encode())
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.spec.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


class Supervisor:
    """Owns the children of one ``berth up`` from their start to their stop."""

    def __init__(self, specs: Sequence[ChildSpec]) -> None:
        self.children = [Child(s) for s in specs]
        self.stopping = asyncio.Event()

    def child(self, kind: Kind) -> Child | None:
        return next((c for c in self.children if c.spec.kind is kind), None)

    async def start_all(self) -> None:
        """Start every child not started yet (``adopt``), all at once: agents and
        marathon retry until the master answers, so nothing waits for anything. The
        master goes first, to get a head start."""
        for child in self.children:
            if child.process is None:
                await child.start()

    async def wait_ready(self, timeout: float) -> None:
        """Return once every child answers ``/health`` and the master shows every agent
        registered and marathon subscribed; raise ``StartupFailed`` if a child ends
        first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        healthy: set[str] = set()
        master = self.child(Kind.MASTER)
        missing: list[str] = []
        while True:
            for child in self.children:
                assert child.process is not None
                if child.process.returncode is not None:
                    raise StartupFailed(
                        f"the {child.spec.name} {describe_exit(child.process.returncode)} "
                        f"while starting; the end of {child.spec.log_path}:\n{child.log_tail()}"
                    )
            pending = [c for c in self.children if c.spec.name not in healthy]
            answers = await asyncio.gather(*(_healthy(c.spec) for c in pending))
            healthy.update(c.spec.name for c, ok in zip(pending, answers, strict=True) if ok)
            missing = [
                f"{c.spec.name} healthy" for c in self.children if c.spec.name not in healthy
            ]
            if not missing and master is not None:
                summary = await http_json(
                    master.spec.host, master.spec.port, "/master/state-summary"
                )
                missing = not_ready_yet(summary, [c.spec for c in self.children])
            if not missing:
                return
            if time.monotonic() > deadline:
                raise StartupFailed(
                    f"the cluster was not ready after {timeout:.0f} s: waiting for "
                    + ", ".join(missing)
                    + f"; the logs are in {self.children[0].spec.log_path.parent}"
                )
            await asyncio.sleep(0.02)

    async def supervise(self) -> None:
        """Restart children that end, with backoff, until cancelled or stopping."""
        async with asyncio.TaskGroup() as tg:
            for child in self.children:
                tg.create_task(self._keep_running(child), name=f"supervise-{child.spec.name}")

    async def _keep_running(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            ran = time.monotonic() - child.started_at
            child.restarts = 1 if ran > RESTART_RESET_AFTER else child.restarts + 1
            delay = restart_delay(child.restarts)
            say(
                f"{child.spec.name} {describe_exit(code)}; restarting it in {delay:.1f} s "
                f"(restart {child.restarts}; log: {child.spec.log_path})"
            )
            await asyncio.sleep(delay)
            if self.stopping.is_set():
                return
            await child.start()
            if await _wait_healthy(child, timeout=60.0):
                say(f"{child.spec.name} is back (pid {child.process.pid})")

    async def stop(self) -> None:
        """Stop every child, wave by wave (``up_plan.STOP_WAVES``); never raises, never
        leaves a child, or an agent's task, behind."""
        self.stopping.set()
        by_spec = {id(c.spec): c for c in self.children}
        for wave in stop_waves([c.spec for c in self.children]):
            await asyncio.gather(*(_stop_child(by_spec[id(s)]) for s in wave))


async def _healthy(spec: ChildSpec) -> bool:
    try:
        status, _ = await http_get(spec.host, spec.port, "/health", timeout=1.0)
    except (OSError, TimeoutError):
        return False
    return status == 200


async def _wait_healthy(child: Child, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.running:
        if await _healthy(child.spec):
            return True
        await asyncio.sleep(0.05)
    return False


async def _stop_child(child: Child) -> None:
    proc = child.process
    clean = True
    if proc is not None and proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(
                proc.wait(), STOP_TIMEOUT.get(child.spec.kind, DEFAULT_STOP_TIMEOUT)
            )
        except TimeoutError:
            say(f"{child.spec.name} did not stop in time; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            clean = False
    if proc is not None and proc.returncode not in (0, None):
        clean = False
    if child.spec.kind is Kind.AGENT and (proc is None or not clean):
        # The agent did not get to kill its tasks itself (it crashed, was killed, or
        # failed): destroy what it left, as its own recovery would.
        try:
            await destroy_agent_containers(child.spec.work_dir)
        except Exception as e:  # stopping must go on; say what may be left
            say(f"could not clean up after {child.spec.name}: {e!r}")


async def destroy_agent_containers(work_dir: Path) -> None:
    """Destroy every container and process the agent with ``work_dir`` started."""
    local_id_file = work_dir / "meta" / "local_id"
    if not local_id_file.exists():
        return
    local_id = local_id_file.read_text().strip()
    from berth.agent.containerizers.process import ProcessContainerizer

    process = ProcessContainerizer(local_id, work_dir / "runtime" / "process")
    try:
        await process.recover([])
    finally:
        await process.close()
    from berth.agent.containerizers.docker import DockerContainerizer, docker_available

    if await docker_available():
        docker = DockerContainerizer(local_id, work_dir / "runtime" / "docker")
        try:
            await docker.recover([])
        finally:
            await docker.close()
