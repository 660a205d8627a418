"""The README's quickstart, through the real entry points as a new user runs them.

``scripts/up`` (set-up, then ``berth up``) brings a cluster up; the client commands,
pointed at its gateway, add the example web app and wait for it, follow its log, scale
it, remove a Docker app without leaving its container, and Ctrl-C on ``berth up`` leaves
no process or container behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cluster import free_port, wait_for
from tests.leftovers import alive, descendants, docker_containers

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


class Up:
    """A ``berth up`` process on free ports, its output collected in a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {name: free_port() for name in ("master", "agent", "marathon", "gateway")}
        self.log_path = root / "up.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(REPO / "scripts" / "up"),  # the README's first command
                "--data-dir",
                str(root / "data"),
                *(
                    arg
                    for name, port in self.ports.items()
                    for arg in (f"--{name}-port", str(port))
                ),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to ``berth up`` (a terminal sends it to the foreground process)."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(60)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


def berth(up: Up, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "berth", *args],
        env={**os.environ, "BERTH_URL": up.url, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    started = Up(tmp_path)
    try:
        wait_for(
            lambda: requests.get(started.url + "/service/marathon/v2/info", timeout=5).ok,
            "berth up's gateway to reach marathon",
            timeout=60,
        )
        yield started
    finally:
        started.kill()


def follow(
    proc: subprocess.Popen[str], want: str, lines: list[str]
) -> tuple[threading.Event, threading.Thread]:
    """Read ``proc``'s stdout into ``lines`` in the background; set the event on ``want``."""
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if want in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return seen, reader


@pytest.mark.docker
def test_quickstart_from_berth_up_to_ctrl_c(up: Up, tmp_path: Path, busybox_image: str) -> None:
    # The README's second step: the example web app, waited for.
    added = berth(up, "app", "add", str(EXAMPLES / "web-server.json"), "--wait")
    assert added.returncode == 0, added.stdout + added.stderr + up.log()
    assert "Traceback" not in added.stderr
    assert "/hello/web" in added.stdout
    assert "2/2" in added.stdout, added.stdout
    # Progress while it waited: the deployment, then its steps as they happened.
    assert "deployment " in added.stderr, added.stderr
    assert len(added.stderr.splitlines()) >= 2, added.stderr

    listed = berth(up, "task", "list", "/hello/web", "--json")
    assert listed.returncode == 0, listed.stderr
    tasks = json.loads(listed.stdout)
    assert len(tasks) == 2
    assert all(t["state"] == "TASK_RUNNING" for t in tasks)
    task_id = tasks[0]["id"]

    # Following the log: the health checks' requests keep arriving on the server's stderr.
    log = subprocess.Popen(
        [sys.executable, "-m", "berth", "task", "log", task_id, "-f", "--stderr", "--lines", "1"],
        env={**os.environ, "BERTH_URL": up.url, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    first, reader = follow(log, '"GET / HTTP/1.1" 200', lines)
    try:
        assert first.wait(60), f"no request line in the followed log: {lines}"
        count = len(lines)
        wait_for(lambda: len(lines) > count, "the followed log to grow", timeout=60)
    finally:
        log.terminate()
        log.wait(10)
        reader.join(10)
        for pipe in (log.stdout, log.stderr):
            assert pipe is not None
            pipe.close()

    scaled = berth(up, "app", "scale", "/hello/web", "3", "--wait")
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    assert "3/3" in scaled.stdout, scaled.stdout

    # A Docker app: removing it leaves no container behind.
    docker_app = tmp_path / "docker-app.json"
    docker_app.write_text(
        json.dumps(
            {
                "id": "/quickstart/sleeper",
                "cmd": "sleep 1000",
                "cpus": 0.1,
                "mem": 32,
                "instances": 1,
                "container": {"type": "DOCKER", "docker": {"image": busybox_image}},
            }
        )
    )
    added = berth(up, "app", "add", str(docker_app), "--wait")
    assert added.returncode == 0, added.stdout + added.stderr + up.log()
    (sleeper,) = json.loads(berth(up, "task", "list", "/quickstart/sleeper", "--json").stdout)
    assert docker_containers(f"berth.task_id={sleeper['id']}")
    removed = berth(up, "app", "remove", "/quickstart/sleeper", "--wait")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    wait_for(
        lambda: not docker_containers(f"berth.task_id={sleeper['id']}"),
        "the removed app's container to be gone",
    )

    # Ctrl-C: everything goes, the web servers included.
    before = descendants(up.process.pid)
    assert before
    code = up.interrupt()
    assert code == 0, up.log()
    wait_for(
        lambda: not [pid for pid in before if alive(pid)],
        "every process berth up started to be gone",
        timeout=30,
    )
    for task in tasks:
        for port in task["ports"]:
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_bad_use_ends_with_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "BERTH_URL": nowhere, "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "berth", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"id": "/x", "cmd": ')
    cases = {
        "unknown command": (run("frobnicate"), "frobnicate"),
        "missing file": (run("app", "add", str(tmp_path / "nope.json")), "nope.json"),
        "invalid JSON": (run("app", "add", str(bad_json)), "bad.json"),
        "cluster not running": (run("app", "list"), "berth up"),
    }
    for what, (result, mention) in cases.items():
        assert result.returncode != 0, what
        message = result.stderr.strip()
        assert "Traceback" not in message, what
        assert len(message.splitlines()) == 1, f"{what}: {message!r}"
        assert mention in message, f"{what}: {message!r}"
