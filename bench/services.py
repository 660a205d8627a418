"""Berth processes for benchmarks: a master with its default settings, real agents and
simulated ones. Built on the test harness's ``Process`` (tests/cluster.py), so logs land
in files and every process stops on ``close``."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.cluster import Process, free_port, wait_for


@dataclass
class Services:
    """Processes of one benchmark run under ``root``; ``close`` stops them, newest first."""

    root: Path
    processes: list[Process] = field(default_factory=list)

    def _start(self, name: str, argv: list[str]) -> Process:
        proc = Process(name, argv, self.root / f"{len(self.processes):02d}-{name}.log")
        self.processes.append(proc)
        proc.start()
        return proc

    def start_master(self) -> tuple[Process, str]:
        """``berth master`` with nothing but a port and a data directory (all defaults)."""
        port = free_port()
        argv = [sys.executable, "-m", "berth", "master", "--port", str(port)]
        argv += ["--data-dir", str(self.root / f"master-{port}")]
        proc = self._start("master", argv)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: requests.get(url + "/health", timeout=5).status_code == 200,
            f"the master to be healthy\n{proc.log()}",
        )
        return proc, url

    def start_agent(self, master_url: str, resources: str, *extra: str) -> tuple[Process, str]:
        port = free_port()
        argv = [sys.executable, "-m", "berth", "agent"]
        argv += ["--master", master_url.removeprefix("http://"), "--port", str(port)]
        argv += ["--work-dir", str(self.root / f"agent-{port}"), "--resources", resources]
        argv += list(extra)
        proc = self._start("agent", argv)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: requests.get(url + "/health", timeout=5).status_code == 200,
            f"the agent to be healthy\n{proc.log()}",
        )
        return proc, url

    def start_gateway(self, master_url: str, marathon_url: str) -> tuple[Process, str]:
        """``berth gateway`` in front of the master and marathon, once healthy."""
        port = free_port()
        argv = [sys.executable, "-m", "berth", "gateway", "--port", str(port)]
        argv += ["--master", master_url.removeprefix("http://")]
        argv += ["--marathon", marathon_url.removeprefix("http://")]
        argv += ["--data-dir", str(self.root / f"gateway-{port}")]
        proc = self._start("gateway", argv)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: requests.get(url + "/health", timeout=5).status_code == 200,
            f"the gateway to be healthy\n{proc.log()}",
        )
        return proc, url

    def start_sim(self, master_url: str, agents: int, *extra: str) -> Process:
        argv = [sys.executable, "-m", "berth.sim", "--master", master_url.removeprefix("http://")]
        argv += ["--agents", str(agents), *extra]
        return self._start("sim", argv)

    def close(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


_READY = re.compile(r"berth\.sim: (\d+) agents registered with \S+ in ([\d.]+)s")


def wait_sim_ready(sim: Process, timeout: float) -> float:
    """Seconds the simulator took to register all its agents (as it reports them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _READY.search(sim.log())
        if match:
            return float(match.group(2))
        if not sim.alive():
            raise RuntimeError(f"the simulator exited early:\n{sim.log()[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"agents not all registered after {timeout:.0f}s:\n{sim.log()[-3000:]}")


def get_json(url: str) -> Any:
    r = requests.get(url, timeout=30)
    r.raise_for_status()
    return r.json()
