"""Crashes under marathon and of marathon itself: instances are replaced, nothing is lost,
nothing runs twice (reference marathon.md 3.7; DESIGN.md "nothing accepted is ever lost
across a restart")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster import Cluster, Master, wait_for
from tests.marathon_events import (
    EventStream,
    InstanceLedger,
    MarathonClient,
    is_deployment_end,
    start_marathon,
    task_processes,
    wait_subscribed,
)

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


def master_tasks(master: Master, framework_id: str) -> dict[str, str]:
    """Task id -> state of every task the master holds for the framework."""
    for framework in master.state()["frameworks"]:
        if framework["id"] == framework_id:
            tasks = [*framework["tasks"], *framework.get("unreachable_tasks", [])]
            return {t["id"]: t["state"] for t in tasks}
    return {}


FORGET_AT_ONCE = {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0}
REPLACE_BUT_REMEMBER = {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 3600}


@pytest.mark.parametrize(
    ("strategy", "forgotten", "docker"),
    [
        # Replaced and forgotten at once: the returning tasks are strangers, killed.
        pytest.param(FORGET_AT_ONCE, True, False, id="0-0"),
        # Replaced after a second, remembered for an hour: the returning instances are
        # the app's again, and the surplus goes (whichever instances that is).
        pytest.param(REPLACE_BUT_REMEMBER, False, False, id="1-3600"),
        pytest.param(FORGET_AT_ONCE, True, True, id="0-0-docker", marks=pytest.mark.docker),
    ],
)
def test_agent_sigkill_replaces_its_instances_and_the_surplus_goes_when_it_returns(
    cluster: Cluster,
    request: pytest.FixtureRequest,
    strategy: dict[str, int],
    forgotten: bool,
    docker: bool,
) -> None:
    master = cluster.start_master(ping_timeout=0.5, max_ping_timeouts=4)
    containerizers = "docker,process" if docker else "process"
    agents = {
        host: cluster.start_agent(master, containerizers=containerizers, hostname=host)
        for host in ("host-a", "host-b")
    }
    marathon, api = start_marathon(cluster, master)
    framework_id = api.get("/v2/info")["frameworkId"]
    app_id = "/survivor"
    app = sleeper(app_id, 2, unreachableStrategy=strategy)
    if docker:
        image = request.getfixturevalue("busybox_image")
        app["container"] = {"type": "DOCKER", "docker": {"image": image}}

    with EventStream(marathon.url) as events:
        created = api.create_app(app)
        end = events.wait_for(is_deployment_end(created), "the app to start", timeout=120)
        assert end["eventType"] == "deployment_success", end
        before = {t["id"]: t["host"] for t in api.running_tasks(app_id)}
        assert len(before) == 2

        lost_host = next(iter(before.values()))
        other_host = "host-b" if lost_host == "host-a" else "host-a"
        lost = {t for t, host in before.items() if host == lost_host}
        agents[lost_host].process.kill()

        # The master declares the agent's tasks unreachable; marathon replaces them on
        # the agent still there.
        for task_id in lost:
            events.wait_type("status_update_event", taskId=task_id, taskStatus="TASK_UNREACHABLE")

        def replaced() -> list[dict[str, Any]] | None:
            running = api.running_tasks(app_id)
            ids = {t["id"] for t in running}
            return running if len(running) == 2 and not ids & lost else None

        running = wait_for(replaced, "two instances running without the lost agent")
        assert {t["host"] for t in running} == {other_host}
        assert api.app(app_id)["tasksRunning"] == 2
        replacements = {t["id"] for t in running} - set(before)
        assert len(replacements) == len(lost)
        # The lost tasks ran on meanwhile: their agent died, not they.
        for task_id in lost:
            assert task_processes(task_id), task_id

        # The agent comes back with its old tasks: the app has one instance too many
        # per returning task, and the surplus is killed.
        cluster.restart_agent(agents[lost_host], master)

        def settled() -> set[str] | None:
            on_master = master_tasks(master, framework_id)
            app = api.app(app_id)
            ids = {t["id"] for t in app["tasks"]}
            if (
                len(on_master) == 2
                and set(on_master.values()) == {"TASK_RUNNING"}
                and set(on_master) == ids
                and app["tasksRunning"] == 2
            ):
                return ids
            return None

        final = wait_for(settled, "two running tasks, as the master and marathon see them")
        wait_for(
            lambda: not any(task_processes(t) for t in (lost | replacements) - final),
            "the surplus tasks to be killed",
        )
        for task_id in final:
            assert task_processes(task_id), task_id
        if forgotten:
            assert final == {t["id"] for t in running}


@pytest.mark.parametrize(
    "room_at_restart",
    [
        pytest.param(False, id="room-after-restart"),
        # The waiting instances launch as soon as marathon is back, while it reconciles
        # the tasks it had.
        pytest.param(True, id="room-at-restart"),
    ],
)
def test_marathon_sigkill_mid_deployment_loses_nothing_and_finishes(
    cluster: Cluster, room_at_restart: bool
) -> None:
    master = cluster.start_master()
    # Room for three instances of 0.5 cpus: a scale to six stays half done.
    cluster.start_agent(master, containerizers="process", resources="cpus:1.5;mem:512;disk:64")
    marathon, api = start_marathon(cluster, master)
    app_id = "/steady"

    with EventStream(marathon.url) as events:
        created = api.create_app(sleeper(app_id, 2, cpus=0.5))
        end = events.wait_for(is_deployment_end(created), "the app to start")
        assert end["eventType"] == "deployment_success", end
        scaling = api.update_app(app_id, {"instances": 6})
        wait_for(
            lambda: (
                len(api.running_tasks(app_id)) == 3 and (api.queued(app_id) or {}).get("count") == 3
            ),
            "three instances running and three waiting for room",
        )

    app_before = api.app(app_id)
    versions_before = api.get(f"/v2/apps{app_id}/versions")["versions"]
    deployments_before = api.deployments()
    assert [d["id"] for d in deployments_before] == [scaling]
    running_before = {t["id"]: t for t in api.running_tasks(app_id)}
    # The processes behind those tasks: adopting a task must not restart it.
    pids_before = {t: sorted(task_processes(t)) for t in running_before}
    assert all(pids_before.values()), pids_before
    framework_id = api.get("/v2/info")["frameworkId"]

    marathon.process.kill()
    if room_at_restart:
        cluster.start_agent(master, containerizers="process", resources="cpus:1.5;mem:512")
        cluster.restart_marathon(marathon)
        api = MarathonClient(marathon.url)
        wait_for(lambda: not api.deployments(), "the interrupted deployment to finish")
    else:
        cluster.restart_marathon(marathon)
        api = MarathonClient(marathon.url)
        assert wait_subscribed(api, master) == framework_id
        with EventStream(marathon.url) as events:
            # Everything it had accepted is still there.
            assert _definition(api.app(app_id)) == _definition(app_before)
            assert api.get(f"/v2/apps{app_id}/versions")["versions"] == versions_before
            assert api.deployments() == deployments_before
            # The tasks that ran were adopted, not relaunched.
            wait_for(
                lambda: {t["id"] for t in api.running_tasks(app_id)} == set(running_before),
                "the running tasks to be adopted",
            )
            assert (api.queued(app_id) or {}).get("count") == 3

            # Room for the rest: the deployment completes.
            cluster.start_agent(master, containerizers="process", resources="cpus:1.5;mem:512")
            end = events.wait_for(is_deployment_end(scaling), "the deployment to finish")
            assert end["eventType"] == "deployment_success", end

    app = api.app(app_id)
    assert _definition(app) == _definition(app_before)
    assert api.get(f"/v2/apps{app_id}/versions")["versions"] == versions_before
    assert app["instances"] == 6
    assert app["tasksRunning"] == 6
    ids = {t["id"] for t in app["tasks"]}
    assert len(ids) == len(app["tasks"]) == 6
    # Adopted, not restarted: the same tasks, run by the same processes. (Their startedAt
    # may differ: a crash just after a task started can lose that news, and the
    # reconciliation that brings it back tells when it was learnt, as in Mesos.)
    assert set(running_before) <= ids
    assert {t: sorted(task_processes(t)) for t in running_before} == pids_before
    assert api.deployments() == []
    # The master runs exactly these six tasks for marathon: none forgotten, none twice.
    assert master_tasks(master, framework_id) == dict.fromkeys(ids, "TASK_RUNNING")


def _definition(app: dict[str, Any]) -> dict[str, Any]:
    """An app as defined, without what describes its running state."""
    dynamic = {
        "tasks",
        "tasksRunning",
        "tasksStaged",
        "tasksHealthy",
        "tasksUnhealthy",
        "deployments",
        "lastTaskFailure",
    }
    return {k: v for k, v in app.items() if k not in dynamic}


def slow_web(app_id: str, instances: int) -> dict[str, Any]:
    """Web servers that take a couple of seconds to answer their health checks."""
    return {
        "id": app_id,
        "cmd": "sleep 2 && exec python3 -m http.server $PORT0 --bind 127.0.0.1",
        "cpus": 0.05,
        "mem": 32,
        "instances": instances,
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/",
                "portIndex": 0,
                "gracePeriodSeconds": 15,
                "intervalSeconds": 1,
                "timeoutSeconds": 1,
                "delaySeconds": 0,
                "maxConsecutiveFailures": 3,
            }
        ],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
    }


def test_marathon_sigkill_mid_rolling_restart_resumes_within_bounds(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    marathon, api = start_marathon(cluster, master)
    framework_id = api.get("/v2/info")["frameworkId"]
    app_id = "/rolling"
    n, min_healthy, max_capacity = 4, 2, 4  # 0.5 / 0: section 3.2's worked case

    with EventStream(marathon.url) as events:
        created = api.create_app(slow_web(app_id, n))
        end = events.wait_for(is_deployment_end(created), "the app to start", timeout=120)
        assert end["eventType"] == "deployment_success", end
        old = {t["id"] for t in api.running_tasks(app_id)}
        restart = api.restart_app(app_id)
        version = api.app(app_id)["version"]
        # Crash while new instances are starting and old ones are being replaced.
        events.wait_for(
            lambda e: (
                e["eventType"] == "status_update_event"
                and e["appId"] == app_id
                and e["version"] == version
                and e["taskStatus"] == "TASK_RUNNING"
            ),
            "a new instance running",
        )
        marathon.process.kill()

    cluster.restart_marathon(marathon)
    api = MarathonClient(marathon.url)
    assert wait_subscribed(api, master) == framework_id
    assert [d["id"] for d in api.deployments()] == [restart]
    assert api.app(app_id)["version"] == version

    with EventStream(marathon.url) as events:
        app = api.app(app_id)
        ledger = InstanceLedger(app_id).seed(app["tasks"])
        mark = events.mark()
        end = events.wait_for(is_deployment_end(restart), "the restart to finish", timeout=180)
        assert end["eventType"] == "deployment_success", end
        timeline = ledger.replay(events.events(since=mark))
        assert max(alive for _, _, alive in timeline) <= max_capacity
        assert min(healthy for _, healthy, _ in timeline) >= min_healthy

    app = api.app(app_id)
    ids = {t["id"] for t in app["tasks"]}
    assert len(ids) == n
    assert not ids & old
    assert {t["version"] for t in app["tasks"]} == {version}
    assert app["tasksHealthy"] == n
    assert master_tasks(master, framework_id) == dict.fromkeys(ids, "TASK_RUNNING")
    wait_for(lambda: not any(task_processes(t) for t in old), "every old task to be gone")
