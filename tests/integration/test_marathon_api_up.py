"""Marathon's canonical example, unchanged, against ``berth up``: posted as a user would
(``requests`` with ``json.dumps``), it reaches two running Docker tasks that answer HTTP,
and ``GET`` shows it in Marathon 1.10's normalised form (reference 2.3)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cluster import destroy_containers, free_port, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXAMPLE_APP = {
    "id": "example-app",
    "cmd": "python3 -m http.server 8080",
    "cpus": 0.5,
    "mem": 128,
    "instances": 2,
    "container": {
        "type": "DOCKER",
        "docker": {
            "image": "python:3",
            "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 0}],
        },
    },
}


@pytest.fixture
def berth_up(tmp_path: Path, python_image: str) -> Iterator[str]:
    """``berth up`` as a subprocess on free ports; yields marathon's URL. On the way out:
    SIGTERM (it must exit 0), then the containers the agent leaves running by design."""
    assert python_image == "python:3"
    data_dir = tmp_path / "data"
    marathon_port = free_port()
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [
                sys.executable, "-m", "berth", "up",
                "--data-dir", str(data_dir),
                "--master-port", str(free_port()),
                "--agent-port", str(free_port()),
                "--marathon-port", str(marathon_port),
                "--containerizer", "docker,process",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(
            lambda: "Berth is up" in log_path.read_text(errors="replace"),
            "berth up to say it is up",
        )
        yield f"http://127.0.0.1:{marathon_port}"
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(30)
        finally:
            destroy_containers(data_dir / "agent")
        assert code == 0, log_path.read_text(errors="replace")


def test_example_app_runs_two_http_servers_and_reads_back_normalised(berth_up: str) -> None:
    r = requests.post(
        berth_up + "/v2/apps",
        data=json.dumps(EXAMPLE_APP),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "/example-app"

    def running() -> dict[str, Any] | None:
        app: dict[str, Any] = requests.get(berth_up + "/v2/apps/example-app", timeout=10).json()[
            "app"
        ]
        ok = app["tasksRunning"] == 2 and not app["deployments"] and len(app["tasks"]) == 2
        return app if ok else None

    # The first launch may build nothing, but Docker still has to start two containers.
    app = wait_for(running, "example-app to run 2 tasks", timeout=120)

    # No health checks: running counts, healthy/unhealthy stay 0.
    assert (app["tasksStaged"], app["tasksHealthy"], app["tasksUnhealthy"]) == (0, 0, 0)

    # Each task's host port reaches python's http.server inside its container.
    for task in app["tasks"]:
        assert task["state"] == "TASK_RUNNING"
        (host_port,) = task["ports"]

        def serves(port: int = host_port) -> bool:
            return requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200

        wait_for(serves, f"HTTP on host port {host_port}", timeout=60)

    # The 1.5+ form: legacy fields moved or dropped (reference 2.3).
    assert "portDefinitions" not in app
    assert "ports" not in app
    assert app["networks"] == [{"mode": "container/bridge"}]
    container = app["container"]
    assert container["type"] == "DOCKER"
    assert container["docker"] == {
        "image": "python:3",
        "forcePullImage": False,
        "privileged": False,
        "parameters": [],
    }
    (mapping,) = container["portMappings"]
    assert mapping["containerPort"] == 8080
    assert mapping["hostPort"] == 0
    assert mapping["protocol"] == "tcp"
    assert 10000 <= mapping["servicePort"] <= 20000
    assert app["requirePorts"] is False
    expected = {
        "id": "/example-app",
        "cmd": "python3 -m http.server 8080",
        "cpus": 0.5,
        "mem": 128,
        "disk": 0,
        "gpus": 0,
        "instances": 2,
        "executor": "",
        "backoffSeconds": 1,
        "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 300,
        "labels": {},
        "role": "*",
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
        "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
        "killSelection": "YOUNGEST_FIRST",
    }
    assert {k: app[k] for k in expected} == expected
    assert app["version"] == app["versionInfo"]["lastConfigChangeAt"]
    for task in app["tasks"]:
        assert task["servicePorts"] == [mapping["servicePort"]]
