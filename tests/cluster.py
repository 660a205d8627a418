"""Real Berth processes for tests: masters and agents on loopback, with cleanup.

Each test gets its own ports, data directories and agent port ranges, so tests run in
parallel under pytest-xdist. Waits poll a condition with a deadline; nothing sleeps for a
fixed time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


_port_block = 0


def task_port_range(size: int = 20) -> tuple[int, int]:
    """A host-port range for one agent's tasks, distinct across tests and xdist workers.

    Below the kernel's ephemeral range (32768+), so no outgoing connection takes them.
    """
    global _port_block
    base = 20000 + _worker_index() * 1000 + (_port_block * size) % 1000
    _port_block += 1
    return base, base + size - 1


def wait_for(
    condition: Callable[[], T | None],
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except (requests.RequestException, OSError, KeyError, ValueError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


@dataclass
class Process:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.popen = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.popen is not None and self.alive():
            self.popen.kill()
            self.popen.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass
class Master:
    process: Process
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def state(self) -> dict[str, Any]:
        r = self.get("/master/state")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data


@dataclass
class Agent:
    process: Process
    port: int
    work_dir: Path
    ports: tuple[int, int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict[str, Any]:
        r = requests.get(self.url + "/state", timeout=10)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data


@dataclass
class HttpService:
    """A service process on loopback with its own data directory."""

    process: Process
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)


class Marathon(HttpService):
    """``berth marathon``."""


class Gateway(HttpService):
    """``berth gateway``."""


@dataclass
class Cluster:
    """Factory for processes of one test; ``close`` stops them all."""

    root: Path
    processes: list[Process] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    _count: int = 0

    def _process(self, name: str, argv: list[str]) -> Process:
        self._count += 1
        proc = Process(name, argv, self.root / f"{self._count:02d}-{name}.log")
        self.processes.append(proc)
        return proc

    def start_master(
        self,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        ping_timeout: float = 0.5,
        max_ping_timeouts: int = 4,
        heartbeat: float = 15.0,
    ) -> Master:
        port = port or free_port()
        data_dir = data_dir or self.root / f"master-{port}"
        argv = [
            sys.executable,
            "-m",
            "berth",
            "master",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--agent-ping-timeout",
            str(ping_timeout),
            "--max-agent-ping-timeouts",
            str(max_ping_timeouts),
            "--heartbeat-interval",
            str(heartbeat),
        ]
        master = Master(self._process("master", argv), port, data_dir)
        self.restart_master(master)
        return master

    def restart_master(self, master: Master) -> None:
        master.process.start()
        wait_for(
            lambda: master.get("/health").status_code == 200,
            f"master on {master.port} to be healthy\n{master.process.log()}",
        )

    def start_agent(
        self,
        master: Master,
        *,
        resources: str = "cpus:2;mem:1024;disk:1024",
        attributes: str | None = None,
        containerizers: str = "docker,process",
        hostname: str | None = None,
        port: int | None = None,
        work_dir: Path | None = None,
        ports: tuple[int, int] | None = None,
        wait_registered: bool = True,
    ) -> Agent:
        port = port or free_port()
        ports = ports or task_port_range()
        work_dir = work_dir or self.root / f"agent-{port}"
        argv = [
            sys.executable,
            "-m",
            "berth",
            "agent",
            "--master",
            master.address,
            "--port",
            str(port),
            "--work-dir",
            str(work_dir),
            "--resources",
            f"{resources};ports:[{ports[0]}-{ports[1]}]",
            "--containerizers",
            containerizers,
            "--status-update-backoff",
            "1",
            "--heartbeat",
            "2",
        ]
        if attributes:
            argv += ["--attributes", attributes]
        if hostname:
            argv += ["--hostname", hostname]
        agent = Agent(self._process("agent", argv), port, work_dir, ports)
        self.agents.append(agent)
        self.restart_agent(agent, master if wait_registered else None)
        return agent

    def restart_agent(self, agent: Agent, master: Master | None) -> None:
        agent.process.start()
        wait_for(
            lambda: requests.get(agent.url + "/health", timeout=5).status_code == 200,
            f"agent on {agent.port} to be healthy\n{agent.process.log()}",
        )
        if master is not None:
            wait_for(
                lambda: (
                    agent.state()["id"]
                    and any(
                        s["id"] == agent.state()["id"] and s["active"]
                        for s in master.state()["slaves"]
                    )
                ),
                f"agent on {agent.port} to register\n{agent.process.log()}",
            )

    def start_marathon(
        self,
        master: Master,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
        reconcile_interval: float = 5.0,
    ) -> Marathon:
        port = port or free_port()
        data_dir = data_dir or self.root / f"marathon-{port}"
        argv = [
            sys.executable,
            "-m",
            "berth",
            "marathon",
            "--master",
            master.address,
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--reconcile-interval",
            str(reconcile_interval),
        ]
        marathon = Marathon(self._process("marathon", argv), port, data_dir)
        self.restart_marathon(marathon)
        return marathon

    def restart_marathon(self, marathon: Marathon) -> None:
        marathon.process.start()
        wait_for(
            lambda: marathon.get("/health").status_code == 200,
            f"marathon on {marathon.port} to be healthy\n{marathon.process.log()}",
        )

    def start_gateway(
        self,
        master: Master,
        marathon: Marathon | None = None,
        *,
        port: int | None = None,
        data_dir: Path | None = None,
    ) -> Gateway:
        """A gateway in front of ``master`` (and ``marathon``; without one, a closed port)."""
        port = port or free_port()
        data_dir = data_dir or self.root / f"gateway-{port}"
        argv = [
            sys.executable,
            "-m",
            "berth",
            "gateway",
            "--port",
            str(port),
            "--master",
            master.address,
            "--marathon",
            f"127.0.0.1:{marathon.port if marathon else free_port()}",
            "--data-dir",
            str(data_dir),
        ]
        gateway = Gateway(self._process("gateway", argv), port, data_dir)
        gateway.process.start()
        wait_for(
            lambda: gateway.get("/health").status_code == 200,
            f"gateway on {port} to be healthy\n{gateway.process.log()}",
        )
        return gateway

    def close(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        for agent in self.agents:
            destroy_containers(agent.work_dir)

    def logs(self) -> str:
        return "\n".join(f"===== {p.name} ({p.log_path})\n{p.log()}" for p in self.processes)


def destroy_containers(work_dir: Path) -> None:
    """Destroy every container an agent left behind (a stopped agent leaves its tasks
    running, to find them again when it restarts)."""
    local_id_file = work_dir / "meta" / "local_id"
    if not local_id_file.exists():
        return
    local_id = local_id_file.read_text().strip()

    async def sweep() -> None:
        from berth.agent.containerizers.docker import DockerContainerizer, docker_available
        from berth.agent.containerizers.process import ProcessContainerizer

        process = ProcessContainerizer(local_id, work_dir / "runtime" / "process")
        await process.recover([])
        await process.close()
        if await docker_available():
            docker = DockerContainerizer(local_id, work_dir / "runtime" / "docker")
            await docker.recover([])
            await docker.close()

    asyncio.run(sweep())


def cluster_fixture(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()
