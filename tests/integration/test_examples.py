"""The examples run on a real cluster: the web server goes healthy, the group's web app
waits for its db."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.cluster import Cluster, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_web_server_example_goes_healthy_and_group_respects_dependencies(
    cluster: Cluster,
) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process", resources="cpus:4;mem:2048;disk:1024")
    marathon = cluster.start_marathon(master)
    url = marathon.url

    app = json.loads((EXAMPLES / "web-server.json").read_text())
    assert requests.post(url + "/v2/apps", json=app, timeout=10).status_code == 201

    def healthy() -> bool:
        info = requests.get(url + "/v2/apps/hello/web", timeout=10).json()["app"]
        return bool(info["tasksHealthy"] == 2)

    wait_for(healthy, "both web servers to pass their health checks")
    for task in requests.get(url + "/v2/apps/hello/web/tasks", timeout=10).json()["tasks"]:
        port = task["ports"][0]
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200

    group = json.loads((EXAMPLES / "group-with-dependencies.json").read_text())
    r = requests.post(url + "/v2/groups", json=group, timeout=10)
    assert r.status_code == 201, r.text
    (deployment,) = [
        d
        for d in requests.get(url + "/v2/deployments", timeout=10).json()
        if d["id"] == r.json()["deploymentId"]
    ]
    scale_steps = [
        [a["app"] for a in step["actions"] if a["action"] == "ScaleApplication"]
        for step in deployment["steps"]
    ]
    # db is scaled in a step before web's.
    flat = [apps for apps in scale_steps if apps]
    assert flat.index(["/shop/db"]) < flat.index(["/shop/web"])
    wait_for(
        lambda: (
            requests.get(url + "/v2/apps/shop/web", timeout=10).json()["app"]["tasksRunning"] == 2
        ),
        "the group's web app to run",
    )
