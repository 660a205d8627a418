"""``berth agent --kill-tasks-on-exit``: on SIGTERM the agent kills its tasks, reports
TASK_KILLED, and exits only once their processes and containers are gone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cluster import (
    Cluster,
    Master,
    Process,
    destroy_containers,
    free_port,
    task_port_range,
    wait_for,
)
from tests.framework import Framework, docker_container, task_info
from tests.leftovers import docker_containers, processes_mentioning

pytestmark = pytest.mark.docker


def start_agent(cluster: Cluster, master: Master, work_dir: Path) -> Process:
    low, high = task_port_range()
    port = free_port()
    process = Process(
        "agent",
        [
            sys.executable, "-m", "berth", "agent",
            "--master", master.address,
            "--port", str(port),
            "--work-dir", str(work_dir),
            "--resources", f"cpus:2;mem:1024;disk:1024;ports:[{low}-{high}]",
            "--status-update-backoff", "1",
            "--kill-tasks-on-exit",
        ],
        cluster.root / "agent-kill-tasks-on-exit.log",
    )  # fmt: skip
    cluster.processes.append(process)
    process.start()
    wait_for(
        lambda: any(s["active"] and s["port"] == port for s in master.state()["slaves"]),
        f"the agent to register\n{process.log()}",
    )
    return process


def test_sigterm_kills_every_task_reports_killed_and_leaves_nothing(
    cluster: Cluster, tmp_path: Path, busybox_image: str
) -> None:
    master = cluster.start_master()
    work_dir = tmp_path / "agent"
    try:
        agent = start_agent(cluster, master, work_dir)
        check_kill_on_exit(master, agent, work_dir, busybox_image)
    finally:
        destroy_containers(work_dir)  # only if the test failed: there should be none


def check_kill_on_exit(master: Master, agent: Process, work_dir: Path, busybox_image: str) -> None:
    fw = Framework(master.url, capabilities=("PARTITION_AWARE", "TASK_KILLING_STATE"))
    fw.subscribe()
    marker = f"kill-on-exit-{free_port()}"
    offer = fw.offers()[0]
    plain = task_info(offer, name="plain", command=f"sleep 1000 && echo {marker}")
    boxed = task_info(
        offer, name="boxed", command="sleep 1000", container=docker_container(busybox_image)
    )
    fw.launch(offer, plain, boxed)
    for task in (plain, boxed):
        fw.wait_state(task["task_id"]["value"], "TASK_RUNNING")
    local_id = (work_dir / "meta" / "local_id").read_text().strip()
    assert processes_mentioning(marker)
    assert docker_containers(f"berth.agent_id={local_id}")

    agent.stop(timeout=60)

    assert agent.popen is not None
    assert agent.popen.returncode == 0, agent.log()
    # The framework heard TASK_KILLED for both, relayed by the master.
    for task in (plain, boxed):
        fw.wait_state(task["task_id"]["value"], "TASK_KILLED", timeout=10)
    states = {
        t["id"]: t["state"]
        for fw_state in master.state()["frameworks"]
        for t in fw_state["tasks"] + fw_state["completed_tasks"]
    }
    assert states[plain["task_id"]["value"]] == "TASK_KILLED"
    assert states[boxed["task_id"]["value"]] == "TASK_KILLED"
    # Nothing of either task is left once the agent has exited.
    assert processes_mentioning(marker) == []
    assert docker_containers(f"berth.agent_id={local_id}") == []
    fw.teardown()
