"""Tasks through the whole path: framework -> master -> agent -> container and back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.cluster import Cluster, Master, wait_for
from tests.framework import Framework, docker_container, task_info


@pytest.fixture(scope="module")
def master(module_cluster: Cluster) -> Master:
    m = module_cluster.start_master()
    module_cluster.start_agent(m, resources="cpus:4;mem:2048;disk:1024")
    return m


@pytest.fixture
def framework(master: Master) -> Iterator[Framework]:
    fw = Framework(master.url)
    fw.subscribe()
    yield fw
    fw.teardown()
    fw.disconnect()


def test_command_health_check_results_travel_in_status_updates(framework: Framework) -> None:
    offer = framework.offers()[0]
    health = {
        "type": "COMMAND",
        "command": {"value": "test -f ready"},
        "delay_seconds": 0,
        "interval_seconds": 0.2,
        "timeout_seconds": 5,
        "grace_period_seconds": 30,
        "consecutive_failures": 3,
    }
    # Becomes healthy once it has created its 'ready' file in the sandbox.
    task = task_info(
        offer, name="healthy", command="touch ready && sleep 1000", health_check=health
    )
    framework.launch(offer, task)
    task_id = task["task_id"]["value"]
    framework.wait_state(task_id, "TASK_RUNNING")
    status = framework.next_update(task_id)
    assert status["state"] == "TASK_RUNNING"
    assert status["healthy"] is True
    assert status["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    framework.kill(task_id)
    framework.wait_state(task_id, "TASK_KILLED")


def test_failing_health_check_kills_the_task(framework: Framework) -> None:
    offer = framework.offers()[0]
    health = {
        "type": "TCP",
        "tcp": {"port": 1},  # nothing listens there
        "delay_seconds": 0,
        "interval_seconds": 0.2,
        "timeout_seconds": 1,
        "grace_period_seconds": 0,
        "consecutive_failures": 2,
    }
    task = task_info(offer, name="sick", command="sleep 1000", health_check=health)
    framework.launch(offer, task)
    task_id = task["task_id"]["value"]
    killed = framework.wait_state(task_id, "TASK_KILLED")
    assert killed["healthy"] is False


def test_failed_command_reports_its_exit_status(framework: Framework) -> None:
    offer = framework.offers()[0]
    task = task_info(offer, name="fails", command="echo oops >&2; exit 3")
    framework.launch(offer, task)
    status = framework.wait_state(task["task_id"]["value"], "TASK_FAILED")
    assert "3" in status["message"]


def test_kill_grace_period_escalates_to_sigkill(framework: Framework) -> None:
    offer = framework.offers()[0]
    # Ignores SIGTERM; only SIGKILL after the 0.5 s grace period ends it.
    task = task_info(
        offer,
        name="stubborn",
        command="trap '' TERM; while true; do sleep 0.1; done",
        kill_policy={"grace_period": {"nanoseconds": 500_000_000}},
    )
    framework.launch(offer, task)
    task_id = task["task_id"]["value"]
    framework.wait_state(task_id, "TASK_RUNNING")
    framework.kill(task_id)
    framework.wait_state(task_id, "TASK_KILLED", timeout=30)


@pytest.mark.docker
def test_docker_task_output_lands_in_its_sandbox(
    master: Master, framework: Framework, busybox_image: str
) -> None:
    offer = framework.offers()[0]
    task = task_info(
        offer,
        name="talker",
        command="echo to-stdout; echo to-stderr >&2",
        container=docker_container(busybox_image),
    )
    framework.launch(offer, task)
    task_id = task["task_id"]["value"]
    framework.wait_state(task_id, "TASK_FINISHED")
    agent_url = _agent_url(master)
    state = requests.get(agent_url + "/state", timeout=10).json()
    directory = next(
        e["directory"]
        for f in state["frameworks"]
        for e in f["executors"] + f["completed_executors"]
        if e["id"] == task_id
    )

    def read(name: str) -> str:
        r = requests.get(
            agent_url + "/files/read",
            params={"path": f"{directory}/{name}", "offset": "0"},
            timeout=10,
        )
        r.raise_for_status()
        return str(r.json()["data"])

    wait_for(lambda: "to-stdout" in read("stdout"), "stdout in the sandbox")
    assert "to-stderr" in read("stderr")
    assert "to-stderr" not in read("stdout")
    listing = requests.get(agent_url + "/files/browse", params={"path": str(directory)}, timeout=10)
    assert {e["path"].rsplit("/", 1)[1] for e in listing.json()} >= {"stdout", "stderr"}


def _agent_url(master: Master) -> str:
    (agent,) = master.state()["slaves"]
    return f"http://{agent['hostname']}:{agent['port']}"
