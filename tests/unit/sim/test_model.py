"""The simulated agent's state machine: what it answers, and that delivery is reliable."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.core import agent_protocol as proto
from berth.core.resources import Resources
from berth.sim.model import AgentSpec, SimAgentState

FW = "fw-1"
SPEC = AgentSpec("sim-00001", "127.0.0.2", 5051, Resources.parse_text("cpus:2;mem:256"))


def make_agent(**kwargs: Any) -> SimAgentState:
    counter = itertools.count()
    return SimAgentState(
        SPEC, uuids=lambda: f"u{next(counter)}", wallclock=lambda: 1000.0, **kwargs
    )


def registered(**kwargs: Any) -> SimAgentState:
    agent = make_agent(**kwargs)
    assert agent.handle({"type": proto.REGISTERED, "agent_id": "M-S1"}, now=0.0) == []
    return agent


def run_task(task_id: str) -> dict[str, Any]:
    return {
        "type": proto.RUN_TASK,
        "framework": {"id": {"value": FW}, "name": "f", "user": "root"},
        "task": {"task_id": {"value": task_id}, "name": task_id, "resources": []},
    }


def ack(frame: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": proto.ACKNOWLEDGE,
        "framework_id": frame["framework_id"],
        "task_id": frame["status"]["task_id"]["value"],
        "uuid": frame["status"]["uuid"],
    }


def test_registers_with_its_info_then_reregisters_with_its_tasks() -> None:
    agent = make_agent()
    first = agent.connect_frame()
    assert first["type"] == proto.REGISTER
    assert first["agent"]["hostname"] == "sim-00001"
    assert first["agent"]["ip"] == "127.0.0.2"
    assert {r["name"] for r in first["agent"]["resources"]} == {"cpus", "mem"}

    agent.handle({"type": proto.REGISTERED, "agent_id": "M-S1"}, now=0.0)
    agent.handle(run_task("t1"), now=0.0)
    again = agent.connect_frame()
    assert again["type"] == proto.REREGISTER
    assert again["agent_id"] == "M-S1"
    assert [(t["task"]["task_id"]["value"], t["state"]) for t in again["tasks"]] == [
        ("t1", "TASK_RUNNING")
    ]
    assert again["frameworks"][0]["id"] == {"value": FW}


def test_run_task_sends_starting_then_running_after_its_acknowledgement() -> None:
    agent = registered()
    out = agent.handle(run_task("t1"), now=0.0)
    # Only the head of the stream is in flight, but it carries the latest state.
    assert [(f["status"]["state"], f["latest_state"]) for f in out] == [
        ("TASK_STARTING", "TASK_RUNNING")
    ]
    assert out[0]["status"]["agent_id"] == {"value": "M-S1"}
    nxt = agent.handle(ack(out[0]), now=1.0)
    assert [f["status"]["state"] for f in nxt] == ["TASK_RUNNING"]
    assert agent.handle(ack(nxt[0]), now=2.0) == []
    assert agent.pending_updates() == 0
    assert [t.task_id for t in agent.running_tasks()] == ["t1"]


def test_an_acknowledgement_for_another_uuid_changes_nothing() -> None:
    agent = registered()
    out = agent.handle(run_task("t1"), now=0.0)
    stale = {**ack(out[0]), "uuid": "not-the-head"}
    assert agent.handle(stale, now=1.0) == []
    assert agent.pending_updates() == 2


def test_unacknowledged_heads_are_resent_with_backoff() -> None:
    agent = registered(resend_backoff=10.0, max_backoff=25.0)
    head = agent.handle(run_task("t1"), now=0.0)[0]
    assert agent.next_due() == 10.0
    assert agent.resend_due(9.9) == []
    again = agent.resend_due(10.0)
    assert [f["status"]["uuid"] for f in again] == [head["status"]["uuid"]]
    assert agent.next_due() == 30.0  # 10 + 20
    agent.resend_due(30.0)
    assert agent.next_due() == 55.0  # capped at 25


def test_heads_wait_while_disconnected_and_go_out_on_registration() -> None:
    agent = registered()
    head = agent.handle(run_task("t1"), now=0.0)[0]
    agent.disconnected()
    assert agent.next_due() is None
    assert agent.resend_due(100.0) == []
    out = agent.handle({"type": proto.REGISTERED, "agent_id": "M-S1"}, now=100.0)
    assert [f["status"]["uuid"] for f in out] == [head["status"]["uuid"]]


def test_kill_task_reports_killed_and_the_task_leaves_once_acknowledged() -> None:
    agent = registered()
    for frame in agent.handle(run_task("t1"), now=0.0):
        for nxt in agent.handle(ack(frame), now=0.0):
            agent.handle(ack(nxt), now=0.0)
    out = agent.handle({"type": proto.KILL_TASK, "framework_id": FW, "task_id": "t1"}, now=1.0)
    assert [f["status"]["state"] for f in out] == ["TASK_KILLED"]
    assert list(agent.tasks) == [(FW, "t1")]  # kept until the terminal update is acked
    agent.handle(ack(out[0]), now=2.0)
    assert agent.tasks == {}
    assert agent.frameworks == {}


def test_killing_an_unknown_task_reports_it_lost() -> None:
    agent = registered()
    out = agent.handle({"type": proto.KILL_TASK, "framework_id": FW, "task_id": "nope"}, now=0.0)
    status = out[0]["status"]
    assert (status["state"], status["reason"], status["source"]) == (
        "TASK_LOST",
        "REASON_TASK_UNKNOWN",
        "SOURCE_AGENT",
    )


def test_duplicate_launch_is_ignored() -> None:
    agent = registered()
    agent.handle(run_task("t1"), now=0.0)
    assert agent.handle(run_task("t1"), now=0.0) == []
    assert agent.pending_updates() == 2


def test_shutdown_framework_kills_its_tasks() -> None:
    agent = registered()
    agent.handle(run_task("t1"), now=0.0)
    out = agent.handle({"type": proto.SHUTDOWN_FRAMEWORK, "framework_id": FW}, now=1.0)
    # The older STARTING/RUNNING updates are dropped; only KILLED remains to deliver.
    assert [f["status"]["state"] for f in out] == ["TASK_KILLED"]
    assert agent.pending_updates() == 1
    agent.handle(ack(out[0]), now=2.0)
    assert agent.tasks == {}


def test_frames_before_registration_are_ignored() -> None:
    agent = make_agent()
    assert agent.handle(run_task("t1"), now=0.0) == []
    assert agent.tasks == {}


# ---------------------------------------------------------------- property

TASKS = ["a", "b", "c"]
actions = st.lists(
    st.one_of(
        st.tuples(st.just("run"), st.sampled_from(TASKS)),
        st.tuples(st.just("kill"), st.sampled_from(TASKS)),
        st.tuples(st.just("ack"), st.sampled_from(TASKS)),
        st.tuples(st.just("drop"), st.just("")),
        st.tuples(st.just("tick"), st.just("")),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(actions)
def test_every_update_is_delivered_in_order_until_acknowledged(
    steps: list[tuple[str, str]],
) -> None:
    """Safety: a task's updates reach the master in the order they were made, each one
    until acknowledged, and a task leaves the agent only after its terminal update is
    acknowledged. The "master" here acknowledges the newest frame it saw for a task."""
    agent = registered(resend_backoff=1.0, max_backoff=4.0)
    now = 0.0
    last_frame: dict[str, dict[str, Any]] = {}
    delivered: dict[str, list[str]] = {t: [] for t in TASKS}
    made: dict[str, list[str]] = {t: [] for t in TASKS}

    def take(frames: list[dict[str, Any]]) -> None:
        for f in frames:
            assert f["type"] == proto.STATUS_UPDATE
            task_id = f["status"]["task_id"]["value"]
            # Only the head of a task's stream is ever in flight.
            assert agent._streams[(FW, task_id)].pending[0] is f["status"]
            last_frame[task_id] = f
            uuid = f["status"]["uuid"]
            if uuid not in delivered[task_id]:
                delivered[task_id].append(uuid)

    for kind, task_id in steps:
        now += 1.0
        if kind == "run":
            take(agent.handle(run_task(task_id), now))
        elif kind == "kill":
            kill = {"type": proto.KILL_TASK, "framework_id": FW, "task_id": task_id}
            take(agent.handle(kill, now))
        elif kind == "ack" and task_id in last_frame:
            terminal = last_frame[task_id]["status"]["state"] in ("TASK_KILLED", "TASK_LOST")
            take(agent.handle(ack(last_frame[task_id]), now))
            if terminal and (FW, task_id) not in agent._streams:
                assert (FW, task_id) not in agent.tasks
        elif kind == "drop":
            agent.disconnected()
            take(agent.handle({"type": proto.REGISTERED, "agent_id": "M-S1"}, now))
        elif kind == "tick":
            now += 100.0
            take(agent.resend_due(now))
        for (_, tid), stream in agent._streams.items():
            for status in stream.pending:
                if status["uuid"] not in made[tid]:
                    made[tid].append(status["uuid"])
            # A task with undelivered updates is still known (a LOST report has no task).
            if stream.pending[0]["state"] != "TASK_LOST":
                assert (FW, tid) in agent.tasks
        # A terminal task stays until its last update is acknowledged, then leaves.
        for (_, tid), task in agent.tasks.items():
            if task.state.is_terminal:
                assert (FW, tid) in agent._streams

    for tid in TASKS:
        # Delivery order is creation order (a prefix of it: the rest is still queued).
        assert delivered[tid] == made[tid][: len(delivered[tid])]
