"""Deployment progress folded from marathon's events (``progress``)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from berth.cli.client.progress import (
    Watch,
    app_state_line,
    apply,
    describe,
    fraction,
    from_deployment,
    seed_app,
)

START = {"action": "StartApplication", "app": "/web"}
SCALE = {"action": "ScaleApplication", "app": "/web"}
PLAN = {
    "id": "d1",
    "steps": [{"actions": [START]}, {"actions": [SCALE]}],
    "target": {"apps": [{"id": "/web", "instances": 3}]},
}


def info(step: dict[str, Any]) -> dict[str, Any]:
    return {"eventType": "deployment_info", "plan": PLAN, "currentStep": {"actions": [step]}}


def step_done(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventType": "deployment_step_success",
        "plan": PLAN,
        "currentStep": {"actions": [step]},
    }


def status(task: str, state: str, app: str = "/web") -> dict[str, Any]:
    return {"eventType": "status_update_event", "appId": app, "taskId": task, "taskStatus": state}


SUCCESS = {"eventType": "deployment_success", "id": "d1", "plan": PLAN}

# What marathon sends for a new app of three instances.
HISTORY = [
    info(START),
    step_done(START),
    info(SCALE),
    status("t1", "TASK_STAGING"),
    status("t1", "TASK_RUNNING"),
    status("t2", "TASK_RUNNING"),
    status("t3", "TASK_RUNNING"),
    step_done(SCALE),
    SUCCESS,
]


def fold(events: list[dict[str, Any]], watch: Watch | None = None) -> list[Watch]:
    out = [watch or Watch("d1")]
    for event in events:
        out.append(apply(out[-1], event))
    return out


def test_a_new_app_goes_from_nothing_to_done() -> None:
    states = fold(HISTORY)
    # steps_done/total, running share of the current step: 0, 0, 1/2, 1/2 + 1/3 of 1/2 ...
    assert [round(fraction(w), 3) for w in states] == [
        0.0, 0.0, 0.5, 0.5, 0.5, 0.667, 0.833, 0.995, 1.0, 1.0,
    ]  # fmt: skip
    assert describe(states[6]) == "step 2/2: scale /web (2/3 running)"
    assert states[-1].outcome == "succeeded"
    assert describe(states[-1]) == "done"


def test_events_of_other_deployments_and_apps_change_nothing() -> None:
    w = fold(HISTORY[:3])[-1]
    other_plan = {**PLAN, "id": "d2"}
    for event in (
        {"eventType": "deployment_success", "id": "d2", "plan": other_plan},
        {"eventType": "deployment_failed", "id": "d2", "plan": other_plan},
        status("x1", "TASK_RUNNING", app="/other"),
        {"eventType": "instance_changed_event"},
        {},
    ):
        assert apply(w, event) == w


def test_a_failure_keeps_its_reason() -> None:
    w = apply(
        fold(HISTORY[:3])[-1],
        {"eventType": "deployment_failed", "id": "d1", "plan": PLAN, "reason": "stopped"},
    )
    assert (w.outcome, w.reason) == ("failed", "stopped")
    assert describe(w) == "failed: stopped"
    # The end is the end: later events do not revive it.
    assert apply(w, SUCCESS) == w


def test_a_task_that_ends_no_longer_counts() -> None:
    w = fold(HISTORY[:6])[-1]
    assert w.running["/web"] == {"t1", "t2"}
    w = apply(w, status("t1", "TASK_KILLED"))
    assert w.running["/web"] == {"t2"}


def test_starting_from_the_deployments_list_and_seeded_tasks() -> None:
    item = {"id": "d1", "currentStep": 2, "totalSteps": 2, "steps": PLAN["steps"]}
    w = seed_app(from_deployment(item), "/web", 3, ["t1"])
    assert (w.steps_done, w.total_steps) == (1, 2)
    assert describe(w) == "step 2/2: scale /web (1/3 running)"
    # The snapshot already showed step 1 done: hearing it again changes nothing.
    assert apply(w, step_done(START)).steps_done == 1


@given(st.lists(st.sampled_from(HISTORY), max_size=30))
def test_fraction_stays_between_0_and_1_and_never_drops_on_step_events(
    events: list[dict[str, Any]],
) -> None:
    previous_done = 0
    for w in fold(events):
        assert 0.0 <= fraction(w) <= 1.0
        assert w.steps_done >= previous_done
        assert w.steps_done <= max(w.total_steps, 0) or not w.steps
        previous_done = w.steps_done
        if w.outcome == "succeeded":
            assert fraction(w) == 1.0


@given(st.lists(st.sampled_from(HISTORY), max_size=20))
def test_every_event_applied_twice_is_the_same_as_once(events: list[dict[str, Any]]) -> None:
    once = fold(events)[-1]
    twice = fold([e for e in events for _ in range(2)])[-1]
    assert once == twice


def test_app_state_lines() -> None:
    assert app_state_line({"id": "/web", "instances": 3, "tasksRunning": 3}) == "/web: 3/3 running"
    assert (
        app_state_line({"id": "/a", "instances": 2, "tasksRunning": 1, "tasksStaged": 1})
        == "/a: 1/2 running, 1 staged"
    )
