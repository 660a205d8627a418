"""Simulated agents against a real master process: they register, run and re-register."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from berth.core.resources import Resources
from berth.sim import SimConfig, Simulation
from tests.cluster import Cluster, Master, Process, wait_for
from tests.framework import Framework, task_info

pytestmark = [pytest.mark.slow]


def start_sim(cluster: Cluster, master: Master, agents: int, prefix: str) -> Process:
    argv = [
        sys.executable,
        "-m",
        "berth.sim",
        "--master",
        master.address,
        "--agents",
        str(agents),
        "--prefix",
        prefix,
        "--cpus",
        "2",
        "--mem",
        "1024",
        "--heartbeat",
        "2",
        "--resend-backoff",
        "1",
    ]
    proc = Process("sim", argv, cluster.root / f"sim-{prefix}.log")
    cluster.processes.append(proc)
    proc.start()
    return proc


def active_hostnames(master: Master) -> set[str]:
    return {s["hostname"] for s in master.state()["slaves"] if s["active"]}


def master_tasks(master: Master) -> dict[str, str]:
    state = master.state()
    return {t["id"]: t["state"] for f in state["frameworks"] for t in f["tasks"]}


def test_simulated_agents_register_run_tasks_and_reregister(cluster: Cluster) -> None:
    master = cluster.start_master()
    sim = start_sim(cluster, master, 3, "simtest")
    expected = {"simtest-00000", "simtest-00001", "simtest-00002"}
    wait_for(lambda: active_hostnames(master) == expected, f"3 simulated agents\n{sim.log()}")
    wait_for(lambda: "3 agents registered" in sim.log(), "the sim's ready line")
    slaves = master.get("/master/slaves").json()["slaves"]
    assert {s["hostname"] for s in slaves} == expected
    assert all(s["resources"]["cpus"] == 2 and s["resources"]["mem"] == 1024 for s in slaves)
    assert len({s["id"] for s in slaves}) == 3

    fw = Framework(master.url)
    fw.subscribe()
    offer = fw.offers()[0]
    hostname = offer["hostname"]
    assert hostname in expected
    task = task_info(offer, name="simulated")
    task_id = task["task_id"]["value"]
    fw.launch(offer, task)
    running = fw.wait_state(task_id, "TASK_RUNNING")
    assert running["agent_id"] == offer["agent_id"]
    assert master_tasks(master)[task_id] == "TASK_RUNNING"

    # Kill one, keep another running across a master restart.
    fw.kill(task_id)
    fw.wait_state(task_id, "TASK_KILLED")
    offer = fw.offers()[0]
    kept = task_info(offer, name="kept")
    kept_id = kept["task_id"]["value"]
    fw.launch(offer, kept)
    fw.wait_state(kept_id, "TASK_RUNNING")

    master.process.stop()
    assert sim.alive()
    cluster.restart_master(master)
    # The simulated agents come back by themselves, with the task they still run.
    wait_for(lambda: active_hostnames(master) == expected, f"re-registration\n{sim.log()}")
    wait_for(
        lambda: master_tasks(master).get(kept_id) == "TASK_RUNNING",
        f"the kept task reported again\n{master.state()}",
    )
    assert sim.alive(), sim.log()


async def test_simulation_api_registers_many_agents(cluster: Cluster) -> None:
    master = cluster.start_master()
    config = SimConfig(
        master=master.address,
        agents=50,
        resources=Resources.parse_text("cpus:1;mem:512"),
        hostname_prefix="api",
        connect_concurrency=8,
    )
    sim = Simulation(config)
    ready = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(sim.run(ready=ready))
        await asyncio.wait_for(ready.wait(), 60)
        stats = sim.statistics()
        assert (stats.agents, stats.registered_once, stats.connected) == (50, 50, 50)

        def slaves() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = master.get("/master/slaves").json()["slaves"]
            return found

        listed = await asyncio.to_thread(slaves)
        assert sorted(s["hostname"] for s in listed) == [f"api-{i:05d}" for i in range(50)]
        assert all(s["active"] for s in listed)
        assert {s["attributes"]["rack"] for s in listed} == {f"r{i}" for i in range(10)}
        runner.cancel()
