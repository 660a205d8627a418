"""``berth up`` through its real entry point: a working cluster, stopped cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.cluster import free_port, wait_for
from tests.framework import Framework, task_info


def test_berth_up_starts_a_cluster_that_runs_tasks_and_stops_on_sigterm(tmp_path: Path) -> None:
    master_port, agent_port, marathon_port = free_port(), free_port(), free_port()
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed below
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "berth",
            "up",
            "--data-dir",
            str(tmp_path / "data"),
            "--containerizer",
            "process",
            "--master-port",
            str(master_port),
            "--agent-port",
            str(agent_port),
            "--marathon-port",
            str(marathon_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    master = f"http://127.0.0.1:{master_port}"
    try:
        wait_for(
            lambda: "Berth is up" in (tmp_path / "up.log").read_text(),
            "berth up to say it is up",
        )
        state = requests.get(master + "/master/state", timeout=10).json()
        assert [s["port"] for s in state["slaves"]] == [agent_port]
        fw = Framework(master)
        fw.subscribe()
        offer = fw.offers()[0]
        task = task_info(offer, name="hello", command="echo hello")
        fw.launch(offer, task)
        fw.wait_state(task["task_id"]["value"], "TASK_FINISHED")
        fw.teardown()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    # Every child went with it.
    for port in (master_port, agent_port, marathon_port):
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except requests.ConnectionError:
            continue
        raise AssertionError(f"something still serves on {port}")
