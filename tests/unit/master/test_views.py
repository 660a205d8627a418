"""State JSON (mesos.md section g): the keys tools read, summarised resources, which
agents and tasks are shown where, and the /master/tasks order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.requests import Request

from berth.core.attributes import parse_attributes
from berth.core.jsonutil import dumps, loads
from berth.core.resources import Resources
from berth.core.states import TaskState
from berth.master import views
from berth.master.master import Master, MasterConfig
from berth.master.operator_api import OperatorApi
from berth.master.registry import AgentStatus
from berth.state.sqlite import SqliteStore
from tests.unit.master.factories import (
    attach_offer,
    attach_task,
    make_agent,
    make_framework,
    make_offer,
    make_task,
    task_info,
)

# Keys mesos.md section g lists as always present (optional ones marked `?` left out).
STATE_KEYS = {
    "version",
    "build_date",
    "build_time",
    "build_user",
    "start_time",
    "elected_time",
    "id",
    "pid",
    "hostname",
    "capabilities",
    "activated_slaves",
    "deactivated_slaves",
    "unreachable_slaves",
    "leader",
    "leader_info",
    "flags",
    "slaves",
    "recovered_slaves",
    "frameworks",
    "completed_frameworks",
    "orphan_tasks",
    "unregistered_frameworks",
}
SLAVE_KEYS = {
    "id",
    "hostname",
    "port",
    "attributes",
    "pid",
    "registered_time",
    "resources",
    "used_resources",
    "offered_resources",
    "reserved_resources",
    "unreserved_resources",
    "active",
    "deactivated",
    "version",
    "capabilities",
}
FRAMEWORK_KEYS = {
    "id",
    "name",
    "used_resources",
    "offered_resources",
    "capabilities",
    "hostname",
    "webui_url",
    "active",
    "connected",
    "recovered",
    "user",
    "failover_timeout",
    "checkpoint",
    "registered_time",
    "unregistered_time",
    "resources",
    "tasks",
    "unreachable_tasks",
    "completed_tasks",
    "offers",
    "executors",
    "offer_constraints",
}
TASK_KEYS = {
    "id",
    "name",
    "framework_id",
    "executor_id",
    "slave_id",
    "state",
    "resources",
    "role",
    "statuses",
}
OFFER_KEYS = {"id", "framework_id", "allocation_info", "slave_id", "resources"}
SUMMARY_SCALARS = {"cpus", "gpus", "mem", "disk"}


@pytest.fixture
async def master(tmp_path: Path) -> AsyncIterator[Master]:
    store = await SqliteStore.open(tmp_path / "m.db")
    m = Master(MasterConfig(hostname="m1", ip="10.0.0.1"), store)
    try:
        yield m
    finally:
        m.close()
        await store.close()


def populate(m: Master) -> None:
    """Two frameworks over three agents, one of them unreachable, one disconnected.

    S1 (active, 4 cpus): F1's web.1 running (0.5 cpus) and web.0 finished but not yet
    acknowledged; F1 holds an offer of 2 cpus on it.
    S2 (unreachable): F1's cut-off, now with F1 only.
    S3 (disconnected): F2's batch.1 staging.
    """
    s1 = make_agent("S1", attributes=parse_attributes("rack:r1;level:10"))
    s2 = make_agent("S2", status=AgentStatus.UNREACHABLE)
    s3 = make_agent("S3", status=AgentStatus.DISCONNECTED)
    f1 = make_framework("F1", capabilities=frozenset({"PARTITION_AWARE"}))
    f2 = make_framework("F2", roles=("eng", "ops"), capabilities=frozenset({"MULTI_ROLE"}))
    attach_task(make_task("web.1", agent_id="S1", started_at=300.0), framework=f1, agent=s1)
    attach_task(
        make_task("web.0", agent_id="S1", state=TaskState.FINISHED, started_at=100.0),
        framework=f1,
        agent=s1,
    )
    attach_task(
        make_task("cut-off", agent_id="S2", state=TaskState.UNREACHABLE, started_at=200.0),
        framework=f1,
        agent=s2,
    )
    attach_task(
        make_task(
            "batch.1",
            framework_id="F2",
            agent_id="S3",
            role="eng",
            state=TaskState.STAGING,
            started_at=400.0,
        ),
        framework=f2,
        agent=s3,
    )
    attach_offer(
        make_offer("O1", resources=Resources.of(cpus=2, mem=1024)),
        framework=f1,
        agent=s1,
        outstanding=m.offers,
    )
    m.agents.update({a.id: a for a in (s1, s2, s3)})
    m.frameworks.update({f.id: f for f in (f1, f2)})


# --------------------------------------------------------------------------- records


def test_task_json() -> None:
    task = make_task("web.1", resources=Resources.of(cpus=0.5, mem=256, ports=[(31000, 31001)]))
    out = views.task_json(task)
    assert set(out) == TASK_KEYS
    assert out["id"] == "web.1"
    assert out["framework_id"] == "F1"
    assert out["slave_id"] == "S1"
    assert out["executor_id"] == ""  # command task
    assert out["state"] == "TASK_RUNNING"
    assert out["role"] == "*"
    assert out["resources"] == {
        "cpus": 0.5,
        "gpus": 0.0,
        "mem": 256.0,
        "disk": 0.0,
        "ports": "[31000-31001]",
    }
    assert [s["state"] for s in out["statuses"]] == ["TASK_STAGING", "TASK_RUNNING"]


def test_task_json_copies_the_optional_blocks_in_proto_json() -> None:
    task = make_task("web.1")
    task.info = task_info(
        "web.1",
        command={"value": "serve", "user": "nobody"},
        labels={"labels": [{"key": "app", "value": "web"}]},
        discovery={"visibility": "FRAMEWORK", "name": "web"},
        container={"type": "DOCKER", "docker": {"image": "python:3.11-slim"}},
        health_check={"type": "TCP", "tcp": {"port": 80}},
        limits={"cpus": {"value": 1.0}},
    )
    out = views.task_json(task)
    assert out["user"] == "nobody"
    for key in ("labels", "discovery", "container", "health_check", "limits"):
        assert out[key] == task.info[key]


def test_offer_json() -> None:
    offer = make_offer("O1", role="eng", resources=Resources.of(cpus=1, mem=32))
    out = views.offer_json(offer)
    assert set(out) == OFFER_KEYS
    assert out == {
        "id": "O1",
        "framework_id": "F1",
        "allocation_info": {"role": "eng"},
        "slave_id": "S1",
        "resources": {"cpus": 1.0, "gpus": 0.0, "mem": 32.0, "disk": 0.0},
    }


def test_agent_json_summarises_total_used_offered_and_reserved() -> None:
    agent = make_agent(
        "S1",
        total=Resources.parse_text("cpus:4;mem:2048;cpus(eng):2;ports:[31000-32000]"),
        attributes=parse_attributes("rack:r1;level:10;keys:[1-5]"),
    )
    fw = make_framework()
    attach_task(make_task("a", resources=Resources.of(cpus=1, mem=100)), framework=fw, agent=agent)
    attach_task(
        make_task("gone", resources=Resources.of(cpus=1), state=TaskState.FAILED),
        framework=fw,
        agent=agent,
    )  # terminal: no longer uses anything
    attach_offer(make_offer(resources=Resources.of(cpus=2)), framework=fw, agent=agent)
    out = views.agent_json(agent)
    assert set(out) == SLAVE_KEYS  # no reregistered_time: it never re-registered
    assert out["pid"] == "slave(1)@10.0.0.5:5051"
    assert out["attributes"] == {"rack": "r1", "level": 10, "keys": "[1-5]"}
    assert out["resources"] == {
        "cpus": 6.0,
        "gpus": 0.0,
        "mem": 2048.0,
        "disk": 0.0,
        "ports": "[31000-32000]",
    }
    assert out["used_resources"] == {"cpus": 1.0, "gpus": 0.0, "mem": 100.0, "disk": 0.0}
    assert out["offered_resources"]["cpus"] == 2.0
    assert out["reserved_resources"] == {"eng": {"cpus": 2.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}}
    assert out["unreserved_resources"]["cpus"] == 4.0
    assert (out["active"], out["deactivated"]) == (True, False)


def test_agent_json_after_reregistration_and_while_disconnected() -> None:
    agent = make_agent(status=AgentStatus.DISCONNECTED)
    agent.reregistered_time = 1_700_000_100.0
    out = views.agent_json(agent)
    assert out["reregistered_time"] == 1_700_000_100.0
    assert (out["active"], out["deactivated"]) == (False, True)


def test_framework_json() -> None:
    fw = make_framework("F1", principal="alice", labels={"labels": []})
    attach_task(make_task("run", resources=Resources.of(cpus=1)), framework=fw, agent=None)
    attach_task(make_task("cut", state=TaskState.UNREACHABLE), framework=fw, agent=None)
    fw.completed_tasks.append(make_task("done", state=TaskState.FINISHED))
    attach_offer(make_offer("O1", resources=Resources.of(cpus=2)), framework=fw, agent=make_agent())
    out = views.framework_json(fw)
    assert set(out) >= FRAMEWORK_KEYS
    assert out["role"] == "*"
    assert "roles" not in out
    assert out["principal"] == "alice"
    assert out["labels"] == {"labels": []}
    assert [t["id"] for t in out["tasks"]] == ["run"]
    assert [t["id"] for t in out["unreachable_tasks"]] == ["cut"]
    assert [t["id"] for t in out["completed_tasks"]] == ["done"]
    assert [o["id"] for o in out["offers"]] == ["O1"]
    assert out["used_resources"]["cpus"] == 1.0
    assert out["offered_resources"]["cpus"] == 2.0
    # `resources` is what the framework holds in all: used plus offered, as in Mesos.
    assert out["resources"]["cpus"] == 3.0


def test_multi_role_frameworks_show_roles() -> None:
    fw = make_framework(roles=("eng", "ops"), capabilities=frozenset({"MULTI_ROLE"}))
    out = views.framework_json(fw)
    assert out["roles"] == ["eng", "ops"]
    assert "role" not in out
    assert out["capabilities"] == ["MULTI_ROLE"]


# --------------------------------------------------------------------------- whole state


async def test_state_json_has_every_key(master: Master) -> None:
    populate(master)
    master.awaiting_reregistration.add("S9")
    out = loads(dumps(views.state_json(master)))  # and it is JSON all the way down
    assert set(out) >= STATE_KEYS
    assert out["pid"] == out["leader"] == "master@10.0.0.1:5050"
    assert out["leader_info"] == {
        "id": master.id,
        "pid": "master@10.0.0.1:5050",
        "port": 5050,
        "hostname": "m1",
    }
    assert all(isinstance(v, str) for v in out["flags"].values())
    assert out["recovered_slaves"] == [{"id": "S9"}]
    assert (out["orphan_tasks"], out["unregistered_frameworks"]) == ([], [])
    for slave in out["slaves"]:
        assert set(slave) >= SLAVE_KEYS
        for key in ("resources", "used_resources", "offered_resources"):
            assert set(slave[key]) >= SUMMARY_SCALARS
    for fw in out["frameworks"]:
        assert set(fw) >= FRAMEWORK_KEYS
        for task in [*fw["tasks"], *fw["unreachable_tasks"], *fw["completed_tasks"]]:
            assert set(task) >= TASK_KEYS
        for offer in fw["offers"]:
            assert set(offer) >= OFFER_KEYS


async def test_unreachable_agents_are_counted_not_listed(master: Master) -> None:
    populate(master)
    out = views.state_json(master)
    assert [s["id"] for s in out["slaves"]] == ["S1", "S3"]
    assert out["activated_slaves"] == 1  # S1
    assert out["deactivated_slaves"] == 1  # S3, disconnected but still registered
    assert out["unreachable_slaves"] == 1  # S2
    # Its task is still shown, with its framework, as unreachable.
    [f1] = [f for f in out["frameworks"] if f["id"] == "F1"]
    assert [t["id"] for t in f1["unreachable_tasks"]] == ["cut-off"]


async def test_removed_frameworks_are_completed_frameworks(master: Master) -> None:
    populate(master)
    f2 = master.frameworks.pop("F2")
    master.completed_frameworks.append(f2)
    out = views.state_json(master)
    assert [f["id"] for f in out["frameworks"]] == ["F1"]
    assert [f["id"] for f in out["completed_frameworks"]] == ["F2"]


async def test_state_summary_counts_tasks_by_state(master: Master) -> None:
    populate(master)
    out = views.state_summary_json(master)
    assert out["hostname"] == "m1"
    slaves = {s["id"]: s for s in out["slaves"]}
    assert set(slaves) == {"S1", "S3"}
    assert slaves["S1"]["TASK_RUNNING"] == 1
    assert slaves["S1"]["TASK_FINISHED"] == 1
    assert slaves["S1"]["framework_ids"] == ["F1"]
    assert slaves["S3"]["TASK_STAGING"] == 1
    frameworks = {f["id"]: f for f in out["frameworks"]}
    assert frameworks["F1"]["TASK_UNREACHABLE"] == 1
    assert frameworks["F1"]["slave_ids"] == ["S1", "S2"]
    assert "tasks" not in frameworks["F1"]
    assert frameworks["F2"]["slave_ids"] == ["S3"]


async def test_metrics_count_reachable_resources_and_live_tasks(master: Master) -> None:
    populate(master)
    out = views.metrics_snapshot(master)
    # S1 and S3 have 4 cpus each; S2 is unreachable and counts for nothing.
    assert out["master/cpus_total"] == 8.0
    assert out["master/cpus_used"] == 1.0  # web.1 and batch.1, 0.5 each
    assert out["master/slaves_active"] == 1
    assert out["master/slaves_unreachable"] == 1
    assert out["master/tasks_running"] == 1
    assert out["master/tasks_staging"] == 1
    assert out["master/tasks_unreachable"] == 1
    assert out["master/outstanding_offers"] == 1
    assert out["allocator/mesos/resources/cpus/offered_or_allocated"] == 3.0


# --------------------------------------------------------------------------- /master/tasks


async def tasks_page(master: Master, query: str) -> list[str]:
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/master/tasks",
            "headers": [],
            "query_string": query.encode(),
        }
    )
    response = await OperatorApi(master).tasks(request)
    assert response.status_code == 200
    return [t["id"] for t in loads(bytes(response.body))["tasks"]]


async def test_all_tasks_covers_active_unreachable_and_completed(master: Master) -> None:
    populate(master)
    master.frameworks["F1"].completed_tasks.append(
        make_task("old", state=TaskState.KILLED, started_at=50.0)
    )
    assert {t.task_id for t in views.all_tasks(master)} == {
        "web.1",
        "web.0",
        "cut-off",
        "batch.1",
        "old",
    }


async def test_tasks_are_ordered_by_first_status_timestamp(master: Master) -> None:
    populate(master)
    # web.0 started first (100) but changed last: the order is by when a task started.
    web0 = master.frameworks["F1"].tasks["web.0"]
    web0.statuses.append({"state": "TASK_FINISHED", "timestamp": 10_000.0})
    # Started at: web.0 100, cut-off 200, web.1 300, batch.1 400.
    assert await tasks_page(master, "order=asc") == ["web.0", "cut-off", "web.1", "batch.1"]
    assert await tasks_page(master, "") == ["batch.1", "web.1", "cut-off", "web.0"]  # des
    assert await tasks_page(master, "order=asc&offset=1&limit=2") == ["cut-off", "web.1"]
    assert await tasks_page(master, "framework_id=F2") == ["batch.1"]
    assert await tasks_page(master, "task_id=web.1") == ["web.1"]
