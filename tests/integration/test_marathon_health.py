"""An instance that fails its health checks is killed and replaced (reference 3.5).

Berth runs the checks on the agent, as Mesos health checks: the agent kills the task once
``maxConsecutiveFailures`` checks failed after the grace period, and marathon launches a
replacement, keeping the app at its instance count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.cluster import Cluster, wait_for
from tests.marathon_events import EventStream, InstanceLedger, instance_of_task, start_marathon

pytestmark = [pytest.mark.slow]

INSTANCES = 2


def never_healthy(app_id: str) -> dict[str, Any]:
    """Nothing listens on $PORT0: every HTTP check fails once the grace period is over."""
    return {
        "id": app_id,
        "cmd": "exec sleep 1000",
        "cpus": 0.05,
        "mem": 16,
        "instances": INSTANCES,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/",
                "portIndex": 0,
                "gracePeriodSeconds": 2,
                "intervalSeconds": 1,
                "timeoutSeconds": 1,
                "delaySeconds": 0,
                "maxConsecutiveFailures": 2,
            }
        ],
    }


def healthy_then_sick(app_id: str) -> dict[str, Any]:
    """Passes its COMMAND check for a few seconds, then fails it for good."""
    return {
        "id": app_id,
        "cmd": "touch healthy && sleep 4 && rm healthy && exec sleep 1000",
        "cpus": 0.05,
        "mem": 16,
        "instances": INSTANCES,
        "portDefinitions": [],
        "healthChecks": [
            {
                "protocol": "COMMAND",
                "command": {"value": "test -f healthy"},
                "gracePeriodSeconds": 2,
                "intervalSeconds": 1,
                "timeoutSeconds": 1,
                "delaySeconds": 0,
                "maxConsecutiveFailures": 2,
            }
        ],
    }


@pytest.mark.parametrize(
    ("definition", "healthy_first"),
    [
        pytest.param(never_healthy, False, id="http-never-healthy"),
        pytest.param(healthy_then_sick, True, id="command-healthy-then-sick"),
    ],
)
def test_failing_health_check_kills_and_replaces_the_instance(
    cluster: Cluster, definition: Callable[[str], dict[str, Any]], healthy_first: bool
) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    marathon, api = start_marathon(cluster, master)
    app_id = "/sick"

    with EventStream(marathon.url) as events:
        api.create_app(definition(app_id))
        first = events.wait_type("status_update_event", appId=app_id, taskStatus="TASK_RUNNING")
        sick_task = first["taskId"]

        # Marked unhealthy (after healthy, for the one that starts well), then killed for
        # it, and the kill is explained.
        sick = instance_of_task(sick_task)
        if healthy_first:
            events.wait_type("instance_health_changed_event", instanceId=sick, healthy=True)
        events.wait_for(
            lambda e: (
                e["eventType"] == "instance_health_changed_event"
                and e["instanceId"] == sick
                and e["healthy"] is False
            ),
            "an instance reported unhealthy",
        )
        kill = events.wait_type("unhealthy_instance_kill_event", appId=app_id, taskId=sick_task)
        assert kill["instanceId"] == instance_of_task(sick_task)
        killed = events.wait_type("status_update_event", taskId=sick_task, taskStatus="TASK_KILLED")
        assert killed["appId"] == app_id

        # A new task of the same app comes up in its place.
        before = {e["taskId"] for e in events.events("status_update_event")}
        replacement = events.wait_for(
            lambda e: (
                e["eventType"] == "status_update_event"
                and e["appId"] == app_id
                and e["taskStatus"] == "TASK_RUNNING"
                and e["taskId"] not in before
            ),
            "a replacement task running",
            since=events.after(killed),
        )

        # Throughout, the app never had more instances alive than it asks for.
        ledger = InstanceLedger(app_id)
        most = max(alive for _, _, alive in ledger.replay(events.events()))
        assert most <= INSTANCES

        app = api.app(app_id)
        assert app["instances"] == INSTANCES
        assert len(app["tasks"]) <= INSTANCES
        assert sick_task not in {t["id"] for t in app["tasks"]}
        assert replacement["taskId"] != sick_task

    wait_for(
        lambda: len(api.running_tasks(app_id)) == INSTANCES or None,
        "the app back at its instance count",
    )
