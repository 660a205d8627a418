"""Agents and masters that crash and come back: nothing duplicated, nothing orphaned."""

from __future__ import annotations

import subprocess

import pytest

from tests.cluster import Cluster, wait_for
from tests.framework import Framework, docker_container, task_info

pytestmark = [pytest.mark.slow]


def _containers(label: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-q", "--no-trunc", "--filter", f"label={label}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


@pytest.mark.docker
def test_agent_sigkill_makes_tasks_unreachable_and_restart_recovers_them(
    cluster: Cluster, busybox_image: str
) -> None:
    master = cluster.start_master(ping_timeout=0.5, max_ping_timeouts=4)
    agent = cluster.start_agent(master)
    fw = Framework(master.url)
    fw.subscribe()
    offer = fw.offers()[0]
    task = task_info(
        offer,
        name="sleeper",
        command="sleep 1000",
        container=docker_container(busybox_image),
    )
    task_id = task["task_id"]["value"]
    fw.launch(offer, task)
    running = fw.wait_state(task_id, "TASK_RUNNING")
    container_id = running["container_status"]["container_id"]["value"]
    before = _containers(f"berth.container_id={container_id}")
    assert len(before) == 1

    agent.process.kill()
    status = fw.wait_state(task_id, "TASK_UNREACHABLE", timeout=30)
    assert status["reason"] == "REASON_AGENT_REMOVED"
    assert "unreachable_time" in status
    state = master.state()
    unreachable = [t for f in state["frameworks"] for t in f["unreachable_tasks"]]
    assert [t["id"] for t in unreachable] == [task_id]
    assert state["unreachable_slaves"] == 1
    # The container kept running while its agent was away.
    assert _containers(f"berth.container_id={container_id}") == before

    cluster.restart_agent(agent, master)
    back = fw.wait_state(task_id, "TASK_RUNNING", timeout=30)
    assert back["reason"] == "REASON_AGENT_REREGISTERED"
    # Same container, not a new one; reported once.
    assert _containers(f"berth.container_id={container_id}") == before
    assert _containers(f"berth.task_id={task_id}") == before
    tasks = [t for f in master.state()["frameworks"] for t in f["tasks"]]
    assert [(t["id"], t["state"]) for t in tasks] == [(task_id, "TASK_RUNNING")]
    agent_tasks = [
        t["id"] for f in agent.state()["frameworks"] for e in f["executors"] for t in e["tasks"]
    ]
    assert agent_tasks == [task_id]

    fw.kill(task_id)
    fw.wait_state(task_id, "TASK_KILLED")
    wait_for(lambda: not _containers(f"berth.container_id={container_id}"), "container removal")


def test_process_task_survives_agent_restart(cluster: Cluster) -> None:
    # A quick restart: the master must not give up on the agent meanwhile.
    master = cluster.start_master(ping_timeout=5, max_ping_timeouts=6)
    agent = cluster.start_agent(master, containerizers="process")
    fw = Framework(master.url)
    fw.subscribe()
    offer = fw.offers()[0]
    task = task_info(offer, name="proc", command="sleep 1000")
    task_id = task["task_id"]["value"]
    fw.launch(offer, task)
    running = fw.wait_state(task_id, "TASK_RUNNING")
    pid = running["container_status"]["executor_pid"]

    agent.process.kill()
    cluster.restart_agent(agent, master)
    # Reconciliation after the restart reports the same task, still running, still the
    # same process.
    r = fw.call({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": task_id}}]}})
    assert r.status_code == 202
    status = fw.next_update(task_id)
    assert status["state"] == "TASK_RUNNING"
    tasks = [t for f in master.state()["frameworks"] for t in f["tasks"]]
    assert [(t["id"], t["state"]) for t in tasks] == [(task_id, "TASK_RUNNING")]
    executors = [e for f in agent.state()["frameworks"] for e in f["executors"]]
    assert len(executors) == 1
    assert subprocess.run(["kill", "-0", str(pid)], check=False).returncode == 0

    # The recovered process still reports its real end.
    fw.kill(task_id)
    fw.wait_state(task_id, "TASK_KILLED")
    wait_for(
        lambda: (
            subprocess.run(["kill", "-0", str(pid)], check=False, capture_output=True).returncode
            != 0
        ),
        "the task's process to be gone",
    )


def test_restarted_master_sees_its_agents_reregister(cluster: Cluster) -> None:
    master = cluster.start_master()
    agent = cluster.start_agent(master, containerizers="process")
    agent_id = agent.state()["id"]
    fw = Framework(master.url, failover_timeout=300)
    fw.subscribe()
    offer = fw.offers()[0]
    task = task_info(offer, name="steady", command="sleep 1000")
    task_id = task["task_id"]["value"]
    fw.launch(offer, task)
    fw.wait_state(task_id, "TASK_RUNNING")

    master.process.kill()
    fw.disconnect()
    cluster.restart_master(master)
    state = wait_for(
        lambda: (s := master.state())["slaves"] and s,
        "the agent to re-register with the restarted master",
    )
    assert [s["id"] for s in state["slaves"]] == [agent_id]
    # The master learnt the task from the agent, under a recovered framework.
    frameworks = {f["id"]: f for f in state["frameworks"]}
    assert frameworks[fw.framework_id]["recovered"] is True
    assert [t["id"] for t in frameworks[fw.framework_id]["tasks"]] == [task_id]

    # The framework fails over to the new master with its id and finds its task.
    fw.subscribe()
    r = fw.call({"type": "RECONCILE", "reconcile": {"tasks": []}})
    assert r.status_code == 202
    assert fw.next_update(task_id)["state"] == "TASK_RUNNING"
    fw.kill(task_id)
    fw.wait_state(task_id, "TASK_KILLED")


@pytest.mark.docker
def test_task_over_its_memory_limit_fails_with_the_memory_reason(
    cluster: Cluster, busybox_image: str
) -> None:
    master = cluster.start_master()
    cluster.start_agent(master)
    fw = Framework(master.url)
    fw.subscribe()
    offer = fw.offers()[0]
    # 200 MB of zeros through a shell variable inside a 32 MB container.
    hog = 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}'
    task = task_info(
        offer, name="hog", mem=32, command=hog, container=docker_container(busybox_image)
    )
    fw.launch(offer, task)
    status = fw.wait_state(task["task_id"]["value"], "TASK_FAILED")
    assert status["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY"
    assert status["message"]


def test_task_given_up_while_its_agent_was_away_is_killed_when_it_returns(
    cluster: Cluster,
) -> None:
    master = cluster.start_master(ping_timeout=0.5, max_ping_timeouts=4)
    agent = cluster.start_agent(master, containerizers="process")
    fw = Framework(master.url)
    fw.subscribe()
    offer = fw.offers()[0]
    task = task_info(offer, name="abandoned", command="sleep 1000")
    task_id = task["task_id"]["value"]
    fw.launch(offer, task)
    pid = fw.wait_state(task_id, "TASK_RUNNING")["container_status"]["executor_pid"]

    agent.process.kill()
    fw.wait_state(task_id, "TASK_UNREACHABLE", timeout=30)
    # The framework gives up on the task while its agent is away...
    fw.kill(task_id)
    # ...and when the agent returns, the task is killed rather than left running.
    cluster.restart_agent(agent, master)
    fw.wait_state(task_id, "TASK_KILLED", timeout=30)
    wait_for(
        lambda: (
            subprocess.run(["kill", "-0", str(pid)], check=False, capture_output=True).returncode
            != 0
        ),
        "the abandoned task's process to be gone",
    )
