"""Deleting an app stops everything it ran: no container or process is left behind."""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.cluster import Cluster, wait_for
from tests.marathon_events import EventStream, is_deployment_end, start_marathon, task_processes

pytestmark = [pytest.mark.slow]


def containers(label: str) -> list[str]:
    """Containers (running or not) carrying ``label``."""
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--no-trunc", "--filter", f"label={label}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


@pytest.mark.docker
def test_deleting_a_docker_app_removes_its_containers(cluster: Cluster, busybox_image: str) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="docker,process")
    marathon, api = start_marathon(cluster, master)
    app_id = "/boxed"

    with EventStream(marathon.url) as events:
        created = api.create_app(
            {
                "id": app_id,
                "cmd": "exec sleep 1000",
                "cpus": 0.05,
                "mem": 32,
                "instances": 2,
                "container": {"type": "DOCKER", "docker": {"image": busybox_image}},
                "portDefinitions": [],
            }
        )
        end = events.wait_for(is_deployment_end(created), "the app to start", timeout=120)
        assert end["eventType"] == "deployment_success", end
        task_ids = [t["id"] for t in api.running_tasks(app_id)]
        assert len(task_ids) == 2
        for task_id in task_ids:
            assert len(containers(f"berth.task_id={task_id}")) == 1, task_id

        mark = events.mark()
        deleted = api.delete_app(app_id)
        events.wait_type("app_terminated_event", appId=app_id, since=mark, timeout=120)
        end = events.wait_for(is_deployment_end(deleted), "the delete", since=mark)
        assert end["eventType"] == "deployment_success", end
        killed = {
            e["taskId"]
            for e in events.events("status_update_event", since=mark)
            if e["taskStatus"] == "TASK_KILLED"
        }
        assert killed == set(task_ids)

    wait_for(
        lambda: not any(containers(f"berth.task_id={t}") for t in task_ids),
        "the app's containers to be removed",
    )
    assert api.get("/v2/apps")["apps"] == []
    assert requests.get(f"{marathon.url}/v2/apps{app_id}", timeout=10).status_code == 404
    frameworks = master.state()["frameworks"]
    assert [t for f in frameworks for t in f["tasks"]] == []


def test_deleting_a_process_app_leaves_no_process(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    marathon, api = start_marathon(cluster, master)
    app_id = "/plain"

    with EventStream(marathon.url) as events:
        created = api.create_app(
            {
                "id": app_id,
                # A shell with a child: both must go, not only the task's first process.
                "cmd": "sleep 1000 & sleep 1000; wait",
                "cpus": 0.05,
                "mem": 16,
                "instances": 2,
                "portDefinitions": [],
            }
        )
        end = events.wait_for(is_deployment_end(created), "the app to start")
        assert end["eventType"] == "deployment_success", end
        task_ids = [t["id"] for t in api.running_tasks(app_id)]
        assert len(task_ids) == 2
        wait_for(
            lambda: all(len(task_processes(t)) >= 3 for t in task_ids),
            "each task's three processes",
        )

        mark = events.mark()
        api.delete_app(app_id)
        events.wait_type("app_terminated_event", appId=app_id, since=mark)

    wait_for(
        lambda: not any(task_processes(t) for t in task_ids),
        "every process of the app to exit",
    )
