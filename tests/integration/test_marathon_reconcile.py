"""Reconciliation must never make marathon forget a task it is launching.

Marathon asks the master about every task it believes exists, periodically and after each
subscription. A task whose launch is still on its way to the master is unknown there, and
the master answers TASK_GONE for it (Mesos's rule for an unknown task on a registered
agent); if marathon believes that answer, it re-queues the instance while the task goes
on to run: a task no longer tracked where it runs, and a second launch of the same
instance. Many short-lived tasks and a reconciliation every few milliseconds make the
two meet within seconds.
"""

from __future__ import annotations

import time

import pytest

from tests.cluster import Cluster
from tests.marathon_events import Event, EventStream, start_marathon

pytestmark = [pytest.mark.slow]

ALIVE = ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")


def test_reconciliation_does_not_declare_tasks_being_launched_gone(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    marathon, api = start_marathon(cluster, master, reconcile_interval=0.05)

    with EventStream(marathon.url, ["status_update_event"]) as events:
        api.create_app(
            {
                "id": "/flapping",
                "cmd": "sleep 0.5",
                "cpus": 0.05,
                "mem": 16,
                "instances": 4,
                "portDefinitions": [],
                # Relaunch at once after each exit: many launches, each one a chance to
                # meet a reconciliation.
                "backoffSeconds": 0,
                "backoffFactor": 1,
            }
        )
        gone: set[str] = set()

        def revived(event: Event) -> bool:
            if event["eventType"] != "status_update_event":
                return False
            if event["taskStatus"] == "TASK_GONE":
                gone.add(event["taskId"])
            return event["taskId"] in gone and event["taskStatus"] in ALIVE

        # Watch 150 launches (a few seconds' worth) for a task declared gone that runs on.
        deadline = time.monotonic() + 120
        launches = 0
        mark = 0
        while launches < 150:
            assert time.monotonic() < deadline, f"only {launches} launches in 120s"
            new = events.events(since=mark)
            mark += len(new)
            found = [e for e in new if revived(e)]
            assert not found, f"tasks reported TASK_GONE, then alive: {found}"
            launches += sum(1 for e in new if e.get("taskStatus") == "TASK_RUNNING")
            time.sleep(0.1)
