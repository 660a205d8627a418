"""Reconciliation (mesos.md section e): a framework's RECONCILE, and an agent's report
when it re-registers. Worked examples per rule of the tables, then properties."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import berth.master.reconciliation as reconciliation_module
from berth.core.jsonutil import JSON, id_of
from berth.core.states import Reason, Source, TaskState
from berth.master.reconciliation import (
    ReportedTask,
    reconcile,
    reconcile_agent,
)
from berth.master.registry import Agent, AgentStatus, Framework, Task
from tests.unit.master.factories import attach_task, make_agent, make_framework, make_task

NOW = 1_700_000_500.0


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(reconciliation_module)
    assert failures == 0


def is_reconciliation_answer(status: JSON) -> bool:
    """What every RECONCILE answer looks like: from the master, with the reason, and no
    uuid (a uuid would make pymesos acknowledge a status no agent is waiting for)."""
    return (
        status["source"] == Source.MASTER.value
        and status["reason"] == Reason.RECONCILIATION.value
        and "uuid" not in status
        and status["timestamp"] == NOW
    )


def by_task(answers: list[JSON]) -> dict[str, str]:
    return {a["task_id"]["value"]: a["state"] for a in answers}


# A cluster the tests share: S1 registered and active, S2 unreachable since 1000,
# S3 disconnected (still registered), S9 known from before a master restart and not back.
def cluster() -> tuple[Framework, dict[str, Agent]]:
    fw = make_framework("F1", capabilities=frozenset({"PARTITION_AWARE"}))
    s1 = make_agent("S1")
    s2 = make_agent("S2", status=AgentStatus.UNREACHABLE, unreachable_time=1000.0)
    s3 = make_agent("S3", status=AgentStatus.DISCONNECTED)
    attach_task(make_task("running", agent_id="S1"), framework=fw, agent=s1)
    attach_task(
        make_task("staging", agent_id="S1", state=TaskState.STAGING), framework=fw, agent=s1
    )
    # Terminal but not acknowledged yet: the master still knows it.
    attach_task(make_task("failed", agent_id="S1", state=TaskState.FAILED), framework=fw, agent=s1)
    attach_task(
        make_task("cut-off", agent_id="S2", state=TaskState.UNREACHABLE, unreachable_time=1000.0),
        framework=fw,
        agent=s2,
    )
    return fw, {a.id: a for a in (s1, s2, s3)}


def ask(
    requested: list[tuple[str, str | None]], *, awaiting: tuple[str, ...] = ("S9",)
) -> list[JSON]:
    fw, agents = cluster()
    return reconcile(fw, requested, agents=agents, awaiting_reregistration=awaiting, now=NOW)


# --------------------------------------------------------------------------- RECONCILE


def test_implicit_answers_every_known_task_with_its_latest_state() -> None:
    answers = ask([])
    assert by_task(answers) == {
        "running": "TASK_RUNNING",
        "staging": "TASK_STAGING",
        "failed": "TASK_FAILED",
        "cut-off": "TASK_UNREACHABLE",
    }
    assert all(is_reconciliation_answer(a) for a in answers)
    # Known tasks say where they are; unreachable ones since when (in nanoseconds).
    assert {a["agent_id"]["value"] for a in answers} == {"S1", "S2"}
    [cut_off] = [a for a in answers if a["task_id"]["value"] == "cut-off"]
    assert cut_off["unreachable_time"] == {"nanoseconds": 1000 * 10**9}


def test_implicit_with_no_tasks_answers_nothing() -> None:
    fw = make_framework()
    assert reconcile(fw, [], agents={}, awaiting_reregistration=(), now=NOW) == []


def test_implicit_does_not_answer_acknowledged_terminal_tasks() -> None:
    # Completed tasks (terminal and acknowledged) are history, not state.
    fw = make_framework()
    fw.completed_tasks.append(make_task("done", state=TaskState.FINISHED))
    assert reconcile(fw, [], agents={}, awaiting_reregistration=(), now=NOW) == []


def test_explicit_answers_a_recently_completed_task_with_how_it_ended() -> None:
    # A framework asking about a task whose end it has not processed yet must learn that
    # end, not that the task is unknown (it would think it vanished and act on it).
    fw = make_framework()
    fw.completed_tasks.append(make_task("done", agent_id="S1", state=TaskState.FINISHED))
    agents = {"S1": make_agent("S1")}
    (answer,) = reconcile(fw, [("done", "S1")], agents=agents, awaiting_reregistration=(), now=NOW)
    assert answer["state"] == "TASK_FINISHED"
    assert answer["reason"] == Reason.RECONCILIATION.value


def test_answers_carry_the_latest_health_and_container_status() -> None:
    # A framework that failed over learns from reconciliation what the lost updates told:
    # whether the task is healthy, and its container's addresses.
    fw = make_framework()
    task = attach_task(make_task("web"), framework=fw, agent=None)
    container_status = {
        "container_id": {"value": "c1"},
        "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": "10.0.0.5"}]}],
    }
    assert task.latest_status is not None
    task.latest_status["healthy"] = False
    task.latest_status["container_status"] = container_status
    [implicit] = reconcile(fw, [], agents={}, awaiting_reregistration=(), now=NOW)
    [explicit] = reconcile(fw, [("web", None)], agents={}, awaiting_reregistration=(), now=NOW)
    for answer in (implicit, explicit):
        assert answer["healthy"] is False
        assert answer["container_status"] == container_status
        assert is_reconciliation_answer(answer)


def test_answers_for_tasks_without_health_or_container_say_nothing_of_them() -> None:
    fw = make_framework()
    attach_task(make_task("staging", state=TaskState.STAGING), framework=fw, agent=None)
    [answer] = reconcile(fw, [], agents={}, awaiting_reregistration=(), now=NOW)
    assert "healthy" not in answer
    assert "container_status" not in answer


@pytest.mark.parametrize(
    ("task_id", "agent_id", "state"),
    [
        # known -> its latest state, whatever agent the framework names
        ("running", "S1", "TASK_RUNNING"),
        ("running", None, "TASK_RUNNING"),
        ("running", "S2", "TASK_RUNNING"),
        ("failed", "S1", "TASK_FAILED"),
        ("cut-off", "S2", "TASK_UNREACHABLE"),
        # unknown on a registered agent -> gone (a disconnected agent is still registered)
        ("ghost", "S1", "TASK_GONE"),
        ("ghost", "S3", "TASK_GONE"),
        # unknown on an unreachable agent -> unreachable
        ("ghost", "S2", "TASK_UNREACHABLE"),
        # unknown, agent unknown too -> unknown
        ("ghost", "S404", "TASK_UNKNOWN"),
    ],
)
def test_explicit_answers_follow_the_table(task_id: str, agent_id: str | None, state: str) -> None:
    [answer] = ask([(task_id, agent_id)])
    assert answer["task_id"] == id_of(task_id)
    assert answer["state"] == state
    assert is_reconciliation_answer(answer)


def test_explicit_unknown_on_an_unreachable_agent_says_since_when() -> None:
    [answer] = ask([("ghost", "S2")])
    assert answer["agent_id"] == id_of("S2")
    assert answer["unreachable_time"] == {"nanoseconds": 1000 * 10**9}


def test_explicit_unknown_on_a_registered_agent_has_no_unreachable_time() -> None:
    [answer] = ask([("ghost", "S1")])
    assert "unreachable_time" not in answer


def test_explicit_unknown_while_agents_may_come_back_is_not_answered() -> None:
    # The agent named is awaited after a master failover: it will report the task itself
    # (or its absence) when it re-registers.
    assert ask([("ghost", "S9")]) == []
    # No agent named, and some agent is still awaited: it could be the one.
    assert ask([("ghost", None)]) == []
    # No agent named, none awaited: nothing is known anywhere.
    [answer] = ask([("ghost", None)], awaiting=())
    assert answer["state"] == "TASK_UNKNOWN"
    assert "agent_id" not in answer


def test_explicit_answers_in_the_order_asked() -> None:
    answers = ask([("ghost", "S1"), ("running", None), ("ghost", "S9"), ("x", "S404")])
    assert [(a["task_id"]["value"], a["state"]) for a in answers] == [
        ("ghost", "TASK_GONE"),
        ("running", "TASK_RUNNING"),
        ("x", "TASK_UNKNOWN"),
    ]


_task_ids = st.sampled_from(["running", "staging", "failed", "cut-off", "ghost", "other"])
_agent_ids = st.sampled_from([None, "S1", "S2", "S3", "S9", "S404"])


@given(st.lists(st.tuples(_task_ids, _agent_ids), min_size=1, max_size=8), st.booleans())
def test_explicit_answers_at_most_once_per_request_and_only_what_was_asked(
    requested: list[tuple[str, str | None]], awaiting_s9: bool
) -> None:
    fw, agents = cluster()
    awaiting = ("S9",) if awaiting_s9 else ()
    answers = reconcile(fw, requested, agents=agents, awaiting_reregistration=awaiting, now=NOW)
    assert len(answers) <= len(requested)
    assert all(is_reconciliation_answer(a) for a in answers)
    asked = [t for t, _ in requested]
    answered = [a["task_id"]["value"] for a in answers]
    # Answers are a subsequence of the requests.
    it = iter(asked)
    assert all(any(t == a for t in it) for a in answered)
    # Known tasks are always answered, with their state; unknown ones never as alive.
    known = {t.task_id: t.state.value for t in [*fw.tasks.values(), *fw.unreachable_tasks.values()]}
    for task_id, _ in requested:
        if task_id in known:
            assert (task_id, known[task_id]) in [
                (a["task_id"]["value"], a["state"]) for a in answers
            ]
    for a in answers:
        if a["task_id"]["value"] not in known:
            assert a["state"] in ("TASK_GONE", "TASK_UNREACHABLE", "TASK_UNKNOWN")


# --------------------------------------------------------------------------- agent reports


def report(
    task_id: str, state: TaskState = TaskState.RUNNING, framework_id: str = "F1"
) -> ReportedTask:
    status: JSON = {"task_id": id_of(task_id), "state": state.value, "timestamp": NOW}
    return ReportedTask(framework_id, task_id, {"task_id": id_of(task_id)}, state, status)


def keys(tasks: tuple[Task, ...]) -> set[str]:
    return {t.task_id for t in tasks}


def test_agent_report_merges_into_what_the_master_knew() -> None:
    known = [
        make_task("same"),  # reported: take the agent's state
        make_task("kill-me", kill_requested=True),  # killed while the agent was away
        make_task("killed-already", kill_requested=True),  # ... and it died meanwhile
        make_task("vanished"),  # not reported: lost on the agent
        make_task("done", state=TaskState.FINISHED),  # terminal, not reported: nothing to do
        make_task("old-fw", framework_id="F0"),  # framework removed while away
    ]
    reported = [
        report("same", TaskState.FAILED),
        report("kill-me"),
        report("killed-already", TaskState.KILLED),
        report("new"),  # unknown: the master restarted and forgot it
        report("old-fw", framework_id="F0"),
        report("other-old", framework_id="F0"),
    ]
    d = reconcile_agent(known, reported, removed_frameworks={"F0"})
    assert [(t.task_id, r.state) for t, r in d.refresh] == [
        ("same", TaskState.FAILED),
        ("kill-me", TaskState.RUNNING),
        ("killed-already", TaskState.KILLED),
    ]
    assert [r.task_id for r in d.adopt] == ["new"]
    assert keys(d.kill) == {"kill-me"}
    assert d.shutdown_frameworks == {"F0"}
    assert keys(d.missing) == {"vanished"}


def test_removed_frameworks_tasks_are_never_adopted() -> None:
    d = reconcile_agent([], [report("t", framework_id="F0")], removed_frameworks={"F0"})
    assert d.adopt == ()
    assert d.refresh == ()
    assert d.shutdown_frameworks == {"F0"}


def test_an_agent_with_nothing_to_say() -> None:
    d = reconcile_agent([], [], removed_frameworks=())
    assert (d.refresh, d.adopt, d.kill, d.missing) == ((), (), (), ())
    assert d.shutdown_frameworks == frozenset()


def test_unreachable_tasks_that_come_back_are_refreshed_not_adopted() -> None:
    # The master passes an unreachable agent's tasks in as known (they live with the
    # framework meanwhile): when the agent reports them they are refreshed.
    cut_off = make_task("cut-off", state=TaskState.UNREACHABLE)
    d = reconcile_agent([cut_off], [report("cut-off")], removed_frameworks=())
    assert [t for t, _ in d.refresh] == [cut_off]
    assert d.adopt == ()
    # Not reported: it did not survive, and is missing like any other live task.
    d = reconcile_agent([cut_off], [], removed_frameworks=())
    assert d.missing == (cut_off,)


def test_same_task_id_in_two_frameworks_are_two_tasks() -> None:
    known = [make_task("t", framework_id="F1")]
    d = reconcile_agent(known, [report("t", framework_id="F2")], removed_frameworks=())
    assert [r.framework_id for r in d.adopt] == ["F2"]
    assert keys(d.missing) == {"t"}


_frameworks = st.sampled_from(["F1", "F2", "F0"])
_ids = st.sampled_from(["a", "b", "c", "d", "e"])
_states = st.sampled_from(list(TaskState))


@given(
    st.dictionaries(st.tuples(_frameworks, _ids), st.tuples(_states, st.booleans())),
    st.dictionaries(st.tuples(_frameworks, _ids), _states),
    st.sets(_frameworks, max_size=2),
)
def test_every_reported_task_lands_in_exactly_one_place(
    known_spec: dict[tuple[str, str], tuple[TaskState, bool]],
    reported_spec: dict[tuple[str, str], TaskState],
    removed: set[str],
) -> None:
    known = [
        make_task(t, framework_id=f, state=state, kill_requested=kill)
        for (f, t), (state, kill) in known_spec.items()
    ]
    reported = [report(t, state, framework_id=f) for (f, t), state in reported_spec.items()]
    d = reconcile_agent(known, reported, removed_frameworks=removed)

    refreshed = [(t.key, (r.framework_id, r.task_id)) for t, r in d.refresh]
    assert all(a == b for a, b in refreshed)  # a task is refreshed from its own report
    placed = [
        *(k for k, _ in refreshed),
        *((r.framework_id, r.task_id) for r in d.adopt),
        *(k for k in reported_spec if k[0] in d.shutdown_frameworks),
    ]
    assert sorted(placed) == sorted(reported_spec)
    # Removed frameworks: all their reported tasks shut down, none adopted or refreshed.
    assert d.shutdown_frameworks == {f for f, _ in reported_spec if f in removed}
    assert not any(r.framework_id in removed for r in d.adopt)
    # Refreshed = known and reported; adopted = reported and unknown.
    assert {k for k, _ in refreshed} == {
        k for k in reported_spec if k in known_spec and k[0] not in removed
    }
    # Kill exactly the refreshed ones the framework asked to kill that still run.
    assert {t.key for t in d.kill} == {
        k
        for k, (_, kill) in known_spec.items()
        if kill and k in reported_spec and k[0] not in removed and not reported_spec[k].is_terminal
    }
    # Missing: known, not reported, not terminal (and not of a removed framework).
    assert {t.key for t in d.missing} == {
        k
        for k, (state, _) in known_spec.items()
        if k not in reported_spec and not state.is_terminal and k[0] not in removed
    }
