"""Operator endpoints in the reference's shapes, against real processes."""

from __future__ import annotations

import pytest
import requests

from tests.cluster import Cluster, Master, wait_for
from tests.framework import Framework, task_info

AGENT_KEYS = {
    "id", "hostname", "port", "attributes", "pid", "registered_time", "resources",
    "used_resources", "offered_resources", "reserved_resources", "unreserved_resources",
    "active", "deactivated", "version", "capabilities",
}  # fmt: skip
FRAMEWORK_KEYS = {
    "id", "name", "used_resources", "offered_resources", "capabilities", "hostname",
    "webui_url", "active", "connected", "recovered", "user", "failover_timeout",
    "checkpoint", "registered_time", "unregistered_time", "resources", "tasks",
    "unreachable_tasks", "completed_tasks", "offers", "executors", "offer_constraints",
}  # fmt: skip
TASK_KEYS = {
    "id", "name", "framework_id", "executor_id", "slave_id", "state", "resources", "role",
    "statuses",
}  # fmt: skip
STATE_KEYS = {
    "version", "build_date", "build_time", "build_user", "start_time", "elected_time", "id",
    "pid", "hostname", "capabilities", "activated_slaves", "deactivated_slaves",
    "unreachable_slaves", "leader", "leader_info", "flags", "slaves", "recovered_slaves",
    "frameworks", "completed_frameworks", "orphan_tasks", "unregistered_frameworks",
}  # fmt: skip


@pytest.fixture
def busy_cluster(cluster: Cluster) -> tuple[Master, Framework, str]:
    master = cluster.start_master()
    cluster.start_agent(
        master, containerizers="process", attributes="rack:r1;level:10;keys:[1000-1500]"
    )
    fw = Framework(master.url, name="shapes")
    fw.subscribe()
    offer = fw.offers()[0]
    task = task_info(offer, name="shape", command="sleep 1000")
    fw.launch(offer, task)
    fw.wait_state(task["task_id"]["value"], "TASK_RUNNING")
    return master, fw, task["task_id"]["value"]


def test_master_state_lists_agents_frameworks_and_tasks(
    busy_cluster: tuple[Master, Framework, str],
) -> None:
    master, fw, task_id = busy_cluster
    master_url = master.url
    for path in ("/master/state", "/state", "/master/state.json"):
        state = requests.get(master_url + path, timeout=10).json()
        assert state.keys() >= STATE_KEYS, STATE_KEYS - state.keys()
    assert state["activated_slaves"] == 1
    assert state["leader"] == state["pid"]
    assert state["pid"].startswith("master@127.0.0.1:")

    (agent,) = state["slaves"]
    assert agent.keys() >= AGENT_KEYS, AGENT_KEYS - agent.keys()
    assert agent["attributes"] == {"rack": "r1", "level": 10, "keys": "[1000-1500]"}
    assert agent["resources"]["cpus"] == 2.0
    assert agent["resources"]["mem"] == 1024.0
    assert agent["resources"]["ports"].startswith("[")
    assert agent["used_resources"]["cpus"] == pytest.approx(0.1)
    assert agent["pid"].startswith("slave(1)@")

    (framework,) = state["frameworks"]
    assert framework.keys() >= FRAMEWORK_KEYS, FRAMEWORK_KEYS - framework.keys()
    assert framework["id"] == fw.framework_id
    assert framework["active"] is True
    assert framework["role"] == "*"
    assert "PARTITION_AWARE" in framework["capabilities"]

    (task,) = framework["tasks"]
    assert task.keys() >= TASK_KEYS, TASK_KEYS - task.keys()
    assert task["id"] == task_id
    assert task["slave_id"] == agent["id"]
    assert task["state"] == "TASK_RUNNING"
    assert [s["state"] for s in task["statuses"]] == [
        "TASK_STAGING",
        "TASK_STARTING",
        "TASK_RUNNING",
    ]
    assert task["resources"]["mem"] == 32.0

    summary = requests.get(master_url + "/master/state-summary", timeout=10).json()
    assert summary["slaves"][0]["TASK_RUNNING"] == 1
    assert summary["slaves"][0]["framework_ids"] == [fw.framework_id]
    assert summary["frameworks"][0]["slave_ids"] == [agent["id"]]

    tasks = requests.get(master_url + "/master/tasks", timeout=10).json()["tasks"]
    assert [t["id"] for t in tasks] == [task_id]
    assert (
        requests.get(master_url + "/master/slaves", timeout=10).json()["slaves"][0]["id"]
        == agent["id"]
    )
    frameworks = requests.get(master_url + "/master/frameworks", timeout=10).json()
    assert [f["id"] for f in frameworks["frameworks"]] == [fw.framework_id]

    metrics = requests.get(master_url + "/metrics/snapshot", timeout=10).json()
    assert metrics["master/tasks_running"] == 1
    assert metrics["master/slaves_active"] == 1
    assert metrics["master/cpus_total"] == 2.0
    assert all(isinstance(v, int | float) for v in metrics.values())
    prom = requests.get(master_url + "/metrics", timeout=10).text
    assert "berth_master_tasks_running 1.0" in prom

    version = requests.get(master_url + "/version", timeout=10).json()
    assert all(part.isdigit() for part in version["version"].split("."))
    redirect = requests.get(master_url + "/master/redirect", timeout=10, allow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["Location"].startswith("//")

    jsonp = requests.get(master_url + "/master/state?jsonp=cb", timeout=10).text
    assert jsonp.startswith("cb(")
    assert jsonp.endswith(");")

    fw.kill(task_id)
    fw.wait_state(task_id, "TASK_KILLED")
    wait_for(
        lambda: (
            [
                t["id"]
                for f in requests.get(master_url + "/master/state", timeout=10).json()["frameworks"]
                for t in f["completed_tasks"]
            ]
            == [task_id]
        ),
        "the killed task to move to completed_tasks",
    )
