"""``berth up`` through its real entry point (``python -m berth up``): a working cluster
that restarts what crashes, keeps its apps across restarts, refuses a busy port cleanly,
and leaves no process and no container behind when stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cluster import free_port, task_port_range, wait_for
from tests.leftovers import docker_containers, processes_mentioning


@dataclass
class BerthUp:
    """One ``berth up`` subprocess on free ports, its output in ``log_path``."""

    root: Path
    data_dir: Path
    args: tuple[str, ...] = ()
    master_port: int = field(default_factory=free_port)
    agent_port: int = field(default_factory=free_port)
    marathon_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    task_ports: tuple[int, int] = field(default_factory=lambda: task_port_range(30))
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def log_path(self) -> Path:
        return self.root / f"up-{self.runs}.log"

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "berth", "up",
            "--data-dir", str(self.data_dir),
            "--master-port", str(self.master_port),
            "--agent-port", str(self.agent_port),
            "--marathon-port", str(self.marathon_port),
            "--gateway-port", str(self.gateway_port),
            "--task-ports", f"{self.task_ports[0]}-{self.task_ports[1]}",
            *self.args,
        ]  # fmt: skip

    def start(self) -> None:
        self.runs += 1
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_up(self) -> str:
        def up() -> bool:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(f"berth up exited early:\n{self.output()}")
            return "Berth is up" in self.output()

        wait_for(up, "berth up to say it is up", timeout=120)
        return self.output()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 90) -> int:
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """Last resort after a failed test: take everything down, whatever it takes."""
        if self.popen is not None and self.popen.poll() is None:
            self.stop(signal.SIGTERM)
        for pid in processes_mentioning(str(self.data_dir)):
            os.kill(pid, signal.SIGKILL)

    @property
    def marathon(self) -> str:
        return f"http://127.0.0.1:{self.marathon_port}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def post_app(self, app: dict[str, Any], base: str | None = None) -> None:
        r = requests.post(
            (base or self.marathon) + "/v2/apps",
            data=json.dumps(app),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 201, r.text

    def tasks(self, app_id: str) -> list[dict[str, Any]]:
        r = requests.get(f"{self.marathon}/v2/apps/{app_id.strip('/')}/tasks", timeout=10)
        r.raise_for_status()
        tasks: list[dict[str, Any]] = r.json()["tasks"]
        return tasks

    def wait_running(self, app_id: str, count: int = 1) -> list[dict[str, Any]]:
        def running() -> list[dict[str, Any]] | None:
            tasks = [t for t in self.tasks(app_id) if t["state"] == "TASK_RUNNING"]
            return tasks if len(tasks) >= count else None

        return wait_for(running, f"{count} running tasks of {app_id}\n{self.output()}", 120)

    def child_pid(self, name: str) -> int:
        """The pid of child ``name`` ("marathon", ...): forked children are named by
        their ``comm``, exec'd ones (restarts) by their command line."""
        for pid in processes_mentioning(str(self.data_dir)):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if comm == f"berth-{name}" or cmdline[3:4] == [name.encode()]:
                return pid
        raise AssertionError(f"no {name} child of berth up is running")

    def local_ids(self) -> list[str]:
        return [
            (d / "meta" / "local_id").read_text().strip()
            for d in sorted(self.data_dir.glob("agent*"))
            if (d / "meta" / "local_id").exists()
        ]


def sleeper(app_id: str, marker: str, **extra: Any) -> dict[str, Any]:
    """An app whose shell stays in the process list with ``marker`` in its command line."""
    return {
        "id": app_id,
        "cmd": f"sleep 1000 && echo {marker}",
        "cpus": 0.05,
        "mem": 16,
        "instances": 1,
        **extra,
    }


@pytest.fixture
def berth_up(tmp_path: Path) -> Iterator[BerthUp]:
    up = BerthUp(tmp_path, tmp_path / "data", ("--containerizer", "process"))
    try:
        yield up
    finally:
        up.kill()


@pytest.mark.docker
def test_up_runs_apps_then_sigint_leaves_no_process_and_no_container(
    tmp_path: Path, busybox_image: str
) -> None:
    up = BerthUp(tmp_path, tmp_path / "data")
    marker = f"berth-up-marker-{up.master_port}"
    up.start()
    try:
        out = up.wait_up()
        lines = out.splitlines()
        assert lines[0].startswith("containers: Docker Engine "), out
        assert lines[0].endswith(" at /var/run/docker.sock"), out
        banner = lines[lines.index(next(x for x in lines if x.startswith("Berth is up"))) + 1]
        assert banner.split()[:2] == ["open", up.gateway], out
        for url in (f"http://127.0.0.1:{up.master_port}", up.marathon, str(up.data_dir)):
            assert url in out
        # Apps go in through the gateway, as the UI and the CLI send them.
        via_gateway = up.gateway + "/service/marathon"
        up.post_app(sleeper("/plain", marker), base=via_gateway)
        boxed = {
            "id": "/boxed",
            "cmd": "sleep 1000",
            "cpus": 0.05,
            "mem": 16,
            "container": {"type": "DOCKER", "docker": {"image": busybox_image}},
        }
        up.post_app(boxed, base=via_gateway)
        up.wait_running("/plain")
        up.wait_running("/boxed")
        assert processes_mentioning(marker)
        (local_id,) = up.local_ids()
        assert docker_containers(f"berth.agent_id={local_id}")

        assert up.stop(signal.SIGINT) == 0, up.output()
        assert "stopping: gateway and marathon, then the agents" in up.output()
        assert "stopped in " in up.output()

        assert processes_mentioning(str(up.data_dir)) == [], "a child outlived berth up"
        assert processes_mentioning(marker) == [], "a process task outlived berth up"
        assert docker_containers(f"berth.agent_id={local_id}") == [], "a container outlived it"
    finally:
        up.kill()


def test_a_killed_child_is_restarted_and_says_so(berth_up: BerthUp) -> None:
    berth_up.start()
    out = berth_up.wait_up()
    assert "containers: running tasks as plain processes (--containerizer process)" in out
    os.kill(berth_up.child_pid("marathon"), signal.SIGKILL)
    wait_for(
        lambda: "marathon was killed by SIGKILL; restarting it" in berth_up.output(),
        "berth up to say it restarts marathon",
    )
    wait_for(lambda: "marathon is back" in berth_up.output(), "marathon to be back")
    assert requests.get(berth_up.marathon + "/health", timeout=10).status_code == 200
    # And the restarted marathon works: an app reaches TASK_RUNNING.
    berth_up.post_app(sleeper("/after-restart", f"after-restart-{berth_up.master_port}"))
    berth_up.wait_running("/after-restart")

    # A second berth up on the same ports is refused in one line, and starts nothing.
    second = BerthUp(
        berth_up.root / "second",
        berth_up.root / "second" / "data",
        berth_up.args,
        berth_up.master_port,
        berth_up.agent_port,
        berth_up.marathon_port,
        berth_up.gateway_port,
    )
    second.root.mkdir()
    second.start()
    assert second.popen is not None
    assert second.popen.wait(60) == 1
    (line,) = second.output().splitlines()
    assert line.startswith(f"berth up: ports already in use: 127.0.0.1:{berth_up.master_port}")
    assert "is another berth up running?" in line
    assert processes_mentioning(str(second.data_dir)) == []
    assert requests.get(berth_up.marathon + "/health", timeout=10).status_code == 200
    assert berth_up.stop(signal.SIGTERM) == 0, berth_up.output()
    assert processes_mentioning(str(berth_up.data_dir)) == []


def test_a_second_up_on_the_same_data_dir_brings_the_apps_back(tmp_path: Path) -> None:
    # With no Docker Engine where DOCKER_HOST points, tasks run as plain processes.
    nowhere = tmp_path / "no-docker.sock"
    berth_up = BerthUp(tmp_path, tmp_path / "data", env={"DOCKER_HOST": f"unix://{nowhere}"})
    try:
        check_a_second_up_brings_the_apps_back(berth_up, nowhere)
    finally:
        berth_up.kill()


def check_a_second_up_brings_the_apps_back(berth_up: BerthUp, nowhere: Path) -> None:
    marker = f"comes-back-{berth_up.master_port}"
    berth_up.start()
    out = berth_up.wait_up()
    assert out.splitlines()[0] == (
        f"containers: no Docker Engine answered at {nowhere}; running tasks as plain processes"
    )
    berth_up.post_app(sleeper("/keeper", marker))
    (first,) = berth_up.wait_running("/keeper")
    assert berth_up.stop(signal.SIGINT) == 0, berth_up.output()
    assert processes_mentioning(marker) == []

    berth_up.start()
    berth_up.wait_up()
    # Marathon remembers its instance as running until the master says otherwise; then it
    # launches a new one (the first was killed when the cluster stopped).
    wait_for(
        lambda: [
            t
            for t in berth_up.tasks("/keeper")
            if t["state"] == "TASK_RUNNING" and t["id"] != first["id"]
        ],
        f"a new instance of /keeper to run\n{berth_up.output()}",
        timeout=120,
    )
    apps = requests.get(berth_up.marathon + "/v2/apps", timeout=10).json()["apps"]
    assert [a["id"] for a in apps] == ["/keeper"]
    assert processes_mentioning(marker)
    assert berth_up.stop(signal.SIGINT) == 0, berth_up.output()
    assert processes_mentioning(marker) == []


def test_a_port_in_use_is_one_clear_line_and_nothing_starts(berth_up: BerthUp) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", berth_up.master_port))
        squatter.listen()
        berth_up.start()
        assert berth_up.popen is not None
        code = berth_up.popen.wait(60)
    out = berth_up.output()
    assert code != 0
    problems = [line for line in out.splitlines() if line.startswith("berth up:")]
    assert problems == [
        f"berth up: port {berth_up.master_port} on 127.0.0.1 is already in use, so the "
        "master cannot start; stop what holds it or choose another port with --master-port"
    ], out
    assert processes_mentioning(str(berth_up.data_dir)) == []
    assert not (berth_up.data_dir / "logs").exists()  # no child was ever started


def test_docker_demanded_but_absent_is_one_clear_line(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-docker.sock"
    up = BerthUp(
        tmp_path,
        tmp_path / "data",
        ("--containerizer", "docker"),
        env={"DOCKER_HOST": f"unix://{nowhere}"},
    )
    up.start()
    assert up.popen is not None
    assert up.popen.wait(60) == 1
    (line,) = up.output().splitlines()
    assert line.startswith(
        f"berth up: --containerizer docker, but no Docker Engine answered at {nowhere} ("
    )
    assert line.endswith("); start it, or use --containerizer process")
    assert processes_mentioning(str(up.data_dir)) == []
