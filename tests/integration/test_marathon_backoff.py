"""Tasks that fail at launch back off, say why, and the delay can be reset (reference 3.4).

The backoff here is ten minutes, far longer than the test: a relaunch seen within the
test can only come from resetting the delay.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.cluster import Cluster, wait_for
from tests.marathon_events import EventStream, start_marathon

pytestmark = [pytest.mark.slow]

BACKOFF = 600
FACTOR = 2


def test_failing_launch_backs_off_and_reports_the_failure(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    marathon, api = start_marathon(cluster, master)
    app_id = "/crashing"

    with EventStream(marathon.url) as events:
        api.create_app(
            {
                "id": app_id,
                "cmd": "exit 1",
                "cpus": 0.05,
                "mem": 16,
                "instances": 1,
                "portDefinitions": [],
                "backoffSeconds": BACKOFF,
                "backoffFactor": FACTOR,
                "maxLaunchDelaySeconds": 3600,
            }
        )
        failed = events.wait_type("status_update_event", appId=app_id, taskStatus="TASK_FAILED")

        failure = wait_for(lambda: api.app(app_id).get("lastTaskFailure"), "lastTaskFailure")
        assert failure["appId"] == app_id
        assert failure["state"] == "TASK_FAILED"
        assert failure["taskId"] == failed["taskId"]
        assert failure["message"]
        assert failure["version"] == api.app(app_id)["version"]

        item = wait_for(lambda: api.queued(app_id), "the instance back in the queue")
        assert item["count"] == 1
        assert item["delay"]["overdue"] is False
        assert 0 < item["delay"]["timeLeftSeconds"] <= BACKOFF
        assert item["app"]["backoffSeconds"] == BACKOFF
        assert item["app"]["backoffFactor"] == FACTOR
        # Backed off: the instance waits, no second task is launched meanwhile.
        assert api.app(app_id)["tasks"] == []

        mark = events.mark()
        r = requests.delete(f"{marathon.url}/v2/queue{app_id}/delay", timeout=10)
        assert r.status_code == 204, r.text

        # The reset lets it launch again at once; it fails again, and the new delay
        # starts over from backoffSeconds (a reset forgets the failures before it).
        again = events.wait_type(
            "status_update_event", appId=app_id, taskStatus="TASK_FAILED", since=mark
        )
        assert again["taskId"] != failed["taskId"]
        wait_for(
            lambda: api.app(app_id)["lastTaskFailure"]["taskId"] == again["taskId"],
            "lastTaskFailure to name the second task",
        )

        def delayed() -> dict[str, Any] | None:
            item = api.queued(app_id)
            return item if item is not None and not item["delay"]["overdue"] else None

        item = wait_for(
            delayed,
            "the second delay",
        )
        assert 0 < item["delay"]["timeLeftSeconds"] <= BACKOFF
