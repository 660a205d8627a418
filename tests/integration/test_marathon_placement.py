"""Where instances go and which ones leave: constraints and killSelection against real
agents (reference marathon.md 3.3, 3.6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster import Cluster, wait_for
from tests.marathon_events import EventStream, is_deployment_end, start_marathon

pytestmark = [pytest.mark.slow]


def sleeper(app_id: str, instances: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": app_id,
        "cmd": "exec sleep 1000",
        "cpus": 0.05,
        "mem": 16,
        "instances": instances,
        "portDefinitions": [],
        **extra,
    }


def test_unique_hostname_puts_one_instance_per_host_and_leaves_the_rest_waiting(
    cluster: Cluster,
) -> None:
    master = cluster.start_master()
    for host in ("host-a", "host-b", "host-c"):
        cluster.start_agent(master, containerizers="process", hostname=host)
    _, api = start_marathon(cluster, master)
    app_id = "/unique"

    deployment = api.create_app(sleeper(app_id, 4, constraints=[["hostname", "UNIQUE"]]))

    running = wait_for(
        lambda: t if len(t := api.running_tasks(app_id)) == 3 else None,
        "three running instances",
    )
    assert sorted(t["host"] for t in running) == ["host-a", "host-b", "host-c"]

    def waiting_for_constraint() -> dict[str, Any] | None:
        item = api.queued(app_id, embed="lastUnusedOffers")
        if item is None:
            return None
        summary = item["processedOffersSummary"]["rejectSummaryLastOffers"]
        refused = {r["reason"]: r["declined"] for r in summary}
        unused = [o.get("reason") for o in item.get("lastUnusedOffers", [])]
        if refused.get("UnfulfilledConstraint", 0) > 0 or "UnfulfilledConstraint" in unused:
            return item
        return None

    item = wait_for(waiting_for_constraint, "the fourth instance to wait on the constraint")
    assert item["count"] == 1, item
    # The deployment waits for the fourth instance; nothing was placed twice on a host.
    assert api.deployment_running(deployment)
    app = api.app(app_id)
    assert app["instances"] == 4
    assert app["tasksRunning"] == 3
    assert len({t["host"] for t in app["tasks"]}) == len(app["tasks"]) == 3


@pytest.mark.parametrize(
    ("kill_selection", "survivor"),
    [
        pytest.param("YOUNGEST_FIRST", 0, id="youngest-first-keeps-the-oldest"),
        pytest.param("OLDEST_FIRST", 2, id="oldest-first-keeps-the-youngest"),
    ],
)
def test_scale_down_follows_kill_selection(
    cluster: Cluster, kill_selection: str, survivor: int
) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    marathon, api = start_marathon(cluster, master)
    app_id = "/picky"

    with EventStream(marathon.url) as events:
        # Start the three instances one after the other, so their ages are distinct.
        started: list[str] = []
        deployment = api.create_app(sleeper(app_id, 1, killSelection=kill_selection))
        for count in (1, 2, 3):
            if count > 1:
                deployment = api.update_app(app_id, {"instances": count})
            end = events.wait_for(is_deployment_end(deployment), f"scale to {count}")
            assert end["eventType"] == "deployment_success", end
            new = [t["id"] for t in api.running_tasks(app_id) if t["id"] not in started]
            assert len(new) == 1, new
            started += new
        tasks = {t["id"]: t for t in api.running_tasks(app_id)}
        assert [tasks[t]["startedAt"] for t in started] == sorted(
            tasks[t]["startedAt"] for t in started
        )

        mark = events.mark()
        deployment = api.update_app(app_id, {"instances": 1})
        end = events.wait_for(is_deployment_end(deployment), "scale to 1", since=mark)
        assert end["eventType"] == "deployment_success", end

        killed = {
            e["taskId"]
            for e in events.events("status_update_event", since=mark)
            if e["taskStatus"] == "TASK_KILLED"
        }
        expected_survivor = started[survivor]
        assert killed == set(started) - {expected_survivor}
        assert [t["id"] for t in api.running_tasks(app_id)] == [expected_survivor]
