"""The unchanged ``pymesos`` library runs a framework on Berth.

Two real agents, a real Docker Engine: a command task and a Docker task (a busybox httpd
on a host port taken from the offer) launched from offers of both agents.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pymesos import MesosSchedulerDriver, Scheduler

from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


class RecordingScheduler(Scheduler):  # type: ignore[misc]
    """Keeps what the driver hands it; the test thread consumes it."""

    def __init__(self) -> None:
        self.offers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.updates: queue.Queue[dict[str, Any]] = queue.Queue()
        self.subscribed = threading.Event()
        self.framework_id: str | None = None
        self.errors: list[str] = []

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self.framework_id = framework_id["value"]
        self.subscribed.set()

    def resourceOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:
        for offer in offers:
            self.offers.put(offer)

    def statusUpdate(self, driver: Any, update: dict[str, Any]) -> None:
        self.updates.put(update)

    def error(self, driver: Any, message: str) -> None:
        self.errors.append(message)


def _scalar(offer: dict[str, Any], name: str) -> float:
    return sum(float(r["scalar"]["value"]) for r in offer["resources"] if r["name"] == name)


def _first_port(offer: dict[str, Any]) -> int:
    for r in offer["resources"]:
        if r["name"] == "ports":
            return int(r["ranges"]["range"][0]["begin"])
    raise AssertionError(f"offer has no ports: {offer}")


def _task(
    name: str, offer: dict[str, Any], cpus: float, mem: float, **extra: Any
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": name,
        "task_id": {"value": f"{name}-{uuid.uuid4().hex[:8]}"},
        "agent_id": {"value": offer["agent_id"]["value"]},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
    }
    task.update(extra)
    return task


def _next_update(sched: RecordingScheduler, task_id: str, timeout: float = 60) -> dict[str, Any]:
    """The next update for ``task_id`` (updates for other tasks are put back)."""
    others = []
    try:
        while True:
            update = sched.updates.get(timeout=timeout)
            if update["task_id"]["value"] == task_id:
                return update
            others.append(update)
    finally:
        for u in others:
            sched.updates.put(u)


@pytest.fixture
def driver_and_scheduler(
    cluster: Cluster, busybox_image: str
) -> Iterator[tuple[Any, RecordingScheduler, list[Any]]]:
    master = cluster.start_master()
    agents = [cluster.start_agent(master, resources="cpus:2;mem:512;disk:512") for _ in range(2)]
    sched = RecordingScheduler()
    framework = {"user": "root", "name": "pymesos-compat", "hostname": "localhost"}
    driver = MesosSchedulerDriver(sched, framework, master.address, use_addict=False)
    driver.start()
    try:
        yield driver, sched, agents
    finally:
        driver.stop()
        driver.join()


def test_pymesos_framework_runs_command_and_docker_tasks(
    driver_and_scheduler: tuple[Any, RecordingScheduler, list[Any]], busybox_image: str
) -> None:
    driver, sched, agents = driver_and_scheduler

    # Offers arrive from both agents.
    offers: dict[str, dict[str, Any]] = {}
    wait_for(
        lambda: (
            offers.update({o["agent_id"]["value"]: o for o in [sched.offers.get(timeout=30)]})
            or len(offers) == 2
        ),
        "offers from both agents",
    )
    (agent_a, offer_a), (agent_b, offer_b) = sorted(offers.items())
    assert _scalar(offer_a, "cpus") == 2.0
    assert _scalar(offer_b, "mem") == 512.0

    # A command task on one agent...
    echo = _task("echo", offer_a, 0.1, 32, command={"value": "echo hello", "shell": True})
    driver.launchTasks([offer_a["id"]], [echo])
    # ...and a Docker task on the other: busybox httpd on a host port from the offer.
    host_port = _first_port(offer_b)
    web = _task(
        "web",
        offer_b,
        0.2,
        64,
        command={
            "shell": False,
            "value": "httpd",
            "arguments": ["httpd", "-f", "-p", "8080", "-h", "/"],
        },
        container={
            "type": "DOCKER",
            "docker": {
                "image": busybox_image,
                "network": "BRIDGE",
                "port_mappings": [
                    {"host_port": host_port, "container_port": 8080, "protocol": "tcp"}
                ],
            },
        },
    )
    web["resources"].append(
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": host_port, "end": host_port}]},
        }
    )
    driver.launchTasks([offer_b["id"]], [web])

    echo_id = echo["task_id"]["value"]
    states: list[str] = []
    while not states or states[-1] not in (
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_LOST",
        "TASK_ERROR",
    ):
        states.append(_next_update(sched, echo_id)["state"])
    assert "TASK_RUNNING" in states, states
    assert states[-1] == "TASK_FINISHED", states

    web_id = web["task_id"]["value"]
    update = _next_update(sched, web_id)
    while update["state"] != "TASK_RUNNING":
        assert update["state"] == "TASK_STARTING", update.get("message")
        update = _next_update(sched, web_id)
    assert update["agent_id"]["value"] == agent_b

    # Any HTTP answer proves the container serves on the host port from the offer.
    status = wait_for(
        lambda: requests.get(f"http://127.0.0.1:{host_port}/", timeout=2).status_code,
        "the httpd task to answer on its host port",
    )
    assert 200 <= status < 500

    # The command task's output is in its sandbox, readable through /files.
    agent_a_proc = next(a for a in agents if a.state()["id"] == agent_a)
    executors = [
        e
        for f in agent_a_proc.state()["frameworks"] + agent_a_proc.state()["completed_frameworks"]
        for e in f["executors"] + f["completed_executors"]
        if e["id"] == echo_id
    ]
    assert executors, agent_a_proc.state()
    stdout = requests.get(
        agent_a_proc.url + "/files/read",
        params={"path": executors[0]["directory"] + "/stdout", "offset": 0},
        timeout=10,
    ).json()
    assert "hello" in stdout["data"]

    driver.killTask({"value": web_id})
    update = _next_update(sched, web_id)
    while update["state"] not in ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED"):
        update = _next_update(sched, web_id)
    assert update["state"] == "TASK_KILLED"
    assert sched.errors == []
