"""Deployment plans on the wire: the exact ``/v2/deployments`` and event shapes clients
accept (reference section 1), conflicts, and the invariants of actions."""

from __future__ import annotations

import doctest

import pytest

import berth.marathon.deployment as deployment_module
from berth.core.jsonutil import dumps, loads
from berth.marathon.deployment import (
    Action,
    DeploymentPlan,
    Step,
    conflicting,
    conflicts,
    deployment_json,
    plan_json,
    steps_json,
)

VERSION = "2015-09-29T15:59:51.164Z"


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(deployment_module)
    assert failures == 0


def new_app_plan(app_id: str = "/a", deployment_id: str = "d-1") -> DeploymentPlan[str]:
    return DeploymentPlan(
        id=deployment_id,
        version=VERSION,
        steps=(
            Step((Action("StartApplication", app_id),)),
            Step((Action("ScaleApplication", app_id, scale_to=2),)),
        ),
        affected_apps=(app_id,),
        target={app_id: "definition"},
    )


def test_deployment_json_is_the_reference_example() -> None:
    # Reference section 1, /v2/deployments, verbatim (with our id).
    expected = loads(
        '[{"id":"d-1","version":"2015-09-29T15:59:51.164Z","affectedApps":["/a"],'
        '"affectedPods":[],"steps":[{"actions":[{"action":"StartApplication","app":"/a"}]},'
        '{"actions":[{"action":"ScaleApplication","app":"/a"}]}],"currentActions":'
        '[{"action":"ScaleApplication","app":"/a","readinessCheckResults":[]}],'
        '"currentStep":2,"totalSteps":2}]'
    )
    assert [deployment_json(new_app_plan(), 2)] == expected


def test_deployment_json_has_exactly_eight_keys() -> None:
    body = deployment_json(new_app_plan(), 1)
    assert set(body) == {
        "id",
        "version",
        "affectedApps",
        "affectedPods",
        "steps",
        "currentActions",
        "currentStep",
        "totalSteps",
    }
    assert loads(dumps(body)) == body  # plain JSON values only


def test_before_the_first_step_current_actions_are_empty() -> None:
    body = deployment_json(new_app_plan(), 0)
    assert (body["currentStep"], body["currentActions"]) == (0, [])


def test_current_actions_can_show_only_what_is_still_running() -> None:
    p: DeploymentPlan[str] = DeploymentPlan(
        "d",
        VERSION,
        (Step((Action("RestartApplication", "/a"), Action("RestartApplication", "/b"))),),
        ("/a", "/b"),
    )
    body = deployment_json(
        p,
        1,
        [Action("RestartApplication", "/b")],
        readiness={"/b": [{"taskId": "t", "name": "readinessCheck", "ready": False}]},
    )
    assert body["currentActions"] == [
        {
            "action": "RestartApplication",
            "app": "/b",
            "readinessCheckResults": [{"taskId": "t", "name": "readinessCheck", "ready": False}],
        }
    ]


def test_step_out_of_range_is_a_bug() -> None:
    with pytest.raises(ValueError, match="step 3 of a 2-step plan"):
        deployment_json(new_app_plan(), 3)


def test_plan_json_carries_original_and_target() -> None:
    original = {"id": "/", "apps": [], "groups": [], "pods": [], "dependencies": []}
    target = {**original, "apps": [{"id": "/a"}]}
    body = plan_json(new_app_plan(), original, target)
    assert body == {
        "id": "d-1",
        "steps": steps_json(new_app_plan()),
        "version": VERSION,
        "original": original,
        "target": target,
    }


def test_step_less_plan_renders() -> None:
    p: DeploymentPlan[str] = DeploymentPlan("d", VERSION, (), ())
    assert p.is_empty
    body = deployment_json(p, 0)
    assert (body["steps"], body["totalSteps"], body["currentActions"]) == ([], 0, [])


def test_conflicts_when_sharing_an_app() -> None:
    a = new_app_plan("/a", "d-1")
    b = new_app_plan("/b", "d-2")
    both: DeploymentPlan[str] = DeploymentPlan("d-3", VERSION, (), ("/a", "/b"))
    assert not conflicts(a, b)
    assert conflicts(a, both)
    assert conflicts(both, b)
    assert conflicting(both, [a, b, both]) == [a, b]
    assert conflicting(a, [b]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "ScaleApplication", "app_id": "/a"}, "scale_to=None"),
        ({"kind": "RestartApplication", "app_id": "/a", "scale_to": 2}, "scale_to=2"),
        ({"kind": "StopApplication", "app_id": "/a", "kill": ("i",)}, "cannot name"),
        ({"kind": "ScaleApplication", "app_id": "/a", "scale_to": -1}, "negative"),
    ],
)
def test_malformed_actions_are_bugs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Action(**kwargs)  # type: ignore[arg-type]
