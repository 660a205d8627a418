"""``berth up --agents 3``: three agents that look like three machines (own loopback
address, hostname, work dir and task ports), so ``hostname:UNIQUE`` spreads an app."""

from __future__ import annotations

import itertools
import signal
from pathlib import Path
from typing import Any

import requests

from tests.cluster import wait_for
from tests.integration.test_up import BerthUp, sleeper
from tests.leftovers import processes_mentioning


def test_three_agents_take_one_unique_instance_each_and_a_fourth_waits(tmp_path: Path) -> None:
    up = BerthUp(tmp_path, tmp_path / "data", ("--containerizer", "process", "--agents", "3"))
    marker = f"unique-{up.master_port}"
    up.start()
    try:
        out = up.wait_up()
        for k in (2, 3, 4):
            assert f"http://127.0.0.{k}:{up.agent_port}" in out
        master = f"http://127.0.0.1:{up.master_port}"
        slaves = requests.get(master + "/master/slaves", timeout=10).json()["slaves"]
        assert sorted(s["hostname"] for s in slaves) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        # Each agent has its own slice of the task ports: no two overlap.
        ranges = sorted(
            tuple(int(p) for p in s["resources"]["ports"].strip("[]").split("-")) for s in slaves
        )
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges)), ranges
        assert ranges[0][0] == up.task_ports[0]
        assert ranges[-1][1] == up.task_ports[1]

        up.post_app(sleeper("/spread", marker, instances=4, constraints=[["hostname", "UNIQUE"]]))
        tasks = up.wait_running("/spread", 3)
        assert sorted(t["host"] for t in tasks) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]

        def fourth_waits() -> dict[str, Any] | None:
            queue = requests.get(up.marathon + "/v2/queue", timeout=10).json()["queue"]
            item: dict[str, Any] | None = next(
                (q for q in queue if q["app"]["id"] == "/spread"), None
            )
            if item is None or item["count"] != 1:
                return None
            declined = {
                r["reason"]: r["declined"]
                for r in item["processedOffersSummary"]["rejectSummaryLastOffers"]
            }
            return item if declined.get("UnfulfilledConstraint") else None

        wait_for(fourth_waits, "the 4th instance to wait, refused by the constraint")
        assert len(up.tasks("/spread")) == 3

        assert up.stop(signal.SIGINT) == 0, up.output()
        assert processes_mentioning(marker) == []
        assert processes_mentioning(str(up.data_dir)) == []
    finally:
        up.kill()
