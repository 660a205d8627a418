"""Rolling restarts keep their promises (reference marathon.md 3.2), seen from /v2/events.

An app of 4 health-checked web servers is restarted; every instance event between the
restart and its ``deployment_success`` is replayed, and at every moment the number of
instances running *and* healthy stays at or above ``minHealthy`` while the number holding
a task stays at or below ``maxCapacity``.
"""

from __future__ import annotations

import math

import pytest

from tests.cluster import Cluster, wait_for
from tests.marathon_events import EventStream, InstanceLedger, is_deployment_end, start_marathon

pytestmark = [pytest.mark.slow]

N = 4


def web_app(
    app_id: str, minimum_health: float, maximum_over: float, image: str | None = None
) -> dict[str, object]:
    """N web servers with an HTTP health check: plain processes on the host's network, or
    (``image``) busybox httpd in Docker containers on the bridge network, checked on
    their container port."""
    app: dict[str, object] = {
        "id": app_id,
        "cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
        "cpus": 0.05,
        "mem": 32,
        "instances": N,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/",
                "portIndex": 0,
                "gracePeriodSeconds": 10,
                "intervalSeconds": 1,
                "timeoutSeconds": 1,
                "delaySeconds": 0,
                "maxConsecutiveFailures": 3,
            }
        ],
        "upgradeStrategy": {
            "minimumHealthCapacity": minimum_health,
            "maximumOverCapacity": maximum_over,
        },
    }
    if image is not None:
        app["cmd"] = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"
        app["container"] = {
            "type": "DOCKER",
            "docker": {"image": image},
            "portMappings": [{"containerPort": 8080, "hostPort": 0}],
        }
        app["networks"] = [{"mode": "container/bridge"}]
    return app


def bounds(
    n: int, minimum_health: float, maximum_over: float, healthy_before: int
) -> tuple[int, int]:
    """Section 3.2's (minHealthy, maxCapacity), with the one extra instance allowed when
    both bounds are N and every old instance is healthy."""
    min_healthy = math.ceil(n * minimum_health)
    max_capacity = math.floor(n * (1 + maximum_over))
    if min_healthy == max_capacity <= healthy_before:
        max_capacity += 1
    return min_healthy, max_capacity


@pytest.mark.parametrize(
    ("minimum_health", "maximum_over", "docker"),
    [
        pytest.param(0.5, 0.0, False, id="half-capacity-no-surge"),
        pytest.param(1.0, 1.0, False, id="default"),
        pytest.param(1.0, 0.0, False, id="full-capacity-one-extra"),
        pytest.param(0.5, 0.0, True, id="half-capacity-docker-bridge", marks=pytest.mark.docker),
    ],
)
def test_rolling_restart_stays_within_upgrade_strategy(
    cluster: Cluster,
    request: pytest.FixtureRequest,
    minimum_health: float,
    maximum_over: float,
    docker: bool,
) -> None:
    image = request.getfixturevalue("busybox_image") if docker else None
    master = cluster.start_master()
    cluster.start_agent(
        master,
        containerizers="docker,process" if docker else "process",
        resources="cpus:2;mem:1024;disk:1024",
    )
    marathon, api = start_marathon(cluster, master)
    app_id = "/web"

    with EventStream(marathon.url) as events:
        created = api.create_app(web_app(app_id, minimum_health, maximum_over, image))
        events.wait_for(is_deployment_end(created), "the app to deploy", timeout=120)
        app = api.app(app_id)
        assert app["tasksHealthy"] == N, app
        old_tasks = {t["id"] for t in app["tasks"]}

        start = events.mark()
        ledger = InstanceLedger(app_id).seed(app["tasks"])
        assert ledger.running_healthy() == N
        restart = api.restart_app(app_id)
        end = events.wait_for(
            is_deployment_end(restart), "the restart to finish", timeout=180, since=start
        )
        assert end["eventType"] == "deployment_success", end

        min_healthy, max_capacity = bounds(N, minimum_health, maximum_over, N)
        timeline = ledger.replay(events.events(since=start))
        assert timeline, "no instance event during the restart"
        lowest = min(healthy for _, healthy, _ in timeline)
        highest = max(alive for _, _, alive in timeline)
        story = [
            (
                e["eventType"],
                e.get("instanceId") or e.get("taskId"),
                e.get("condition"),
                e.get("taskStatus"),
                e.get("healthy"),
                h,
                a,
            )
            for e, h, a in timeline
        ]
        assert lowest >= min_healthy, (lowest, min_healthy, story)
        assert highest <= max_capacity, (highest, max_capacity, story)

        # Every old task was replaced, and the app ends with N healthy new ones.
        final = wait_for(
            lambda: (a := api.app(app_id))["tasksHealthy"] == N and len(a["tasks"]) == N and a,
            "N healthy tasks after the restart",
        )
        assert not old_tasks & {t["id"] for t in final["tasks"]}
        assert ledger.running_healthy() == N
