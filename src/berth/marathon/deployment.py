"""Deployment plans: what a deployment will do, and how Marathon shows it.

A plan is an ordered list of steps; the actions of one step run in parallel and the next
step starts only when every action of the current one is done (reference section 3.1).
The planner (`berth.marathon.planner`) builds plans, the step logic
(`berth.marathon.steps`) decides what one action needs right now, and the deployment
manager (the effectful shell) walks the steps. This module only holds the values and
renders them in the exact wire shapes of ``/v2/deployments`` and of the deployment events.

The plan is generic over the app-definition type ``A``: it carries the definitions of the
affected apps before and after (``original``/``target``), which is what the executor needs
to run an action and what a rollback needs to undo the deployment, without this module
knowing what an app definition looks like.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from berth.core.jsonutil import JSON

A = TypeVar("A")

ActionKind = Literal[
    "StartApplication", "StopApplication", "ScaleApplication", "RestartApplication"
]


@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do to one app.

    ``scale_to`` is set on ``ScaleApplication`` only (the instance count to reach);
    ``kill`` names instances a ``ScaleApplication`` kills before anything else (a kill
    with ``scale=true``).

    >>> Action("ScaleApplication", "/web", scale_to=3).to_json()
    {'action': 'ScaleApplication', 'app': '/web'}
    """

    kind: ActionKind
    app_id: str
    scale_to: int | None = None
    kill: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Broken invariants are bugs in the planner, not bad input: fail at construction.
        if (self.kind == "ScaleApplication") != (self.scale_to is not None):
            raise ValueError(f"{self.kind} of {self.app_id}: scale_to={self.scale_to!r}")
        if self.kill and self.kind != "ScaleApplication":
            raise ValueError(f"{self.kind} of {self.app_id} cannot name instances to kill")
        if self.scale_to is not None and self.scale_to < 0:
            raise ValueError(f"{self.kind} of {self.app_id}: negative scale_to")

    def to_json(self) -> JSON:
        return {"action": self.kind, "app": self.app_id}


@dataclass(frozen=True, slots=True)
class Step:
    """Actions that run in parallel; the step is done when all of them are."""

    actions: tuple[Action, ...]

    def to_json(self) -> JSON:
        return {"actions": [a.to_json() for a in self.actions]}


@dataclass(frozen=True, slots=True)
class DeploymentPlan(Generic[A]):
    """An accepted deployment: its id, the version it deploys, and its steps.

    ``version`` is the timestamp string the caller stamped the change with (the new
    root-group/app version). ``original``/``target`` hold the definitions of the affected
    apps before and after the deployment (an app absent from ``original`` is new, one
    absent from ``target`` is removed). Plans compare by value but are not hashable
    (they hold mappings); key them by ``id``.
    """

    id: str
    version: str
    steps: tuple[Step, ...]
    affected_apps: tuple[str, ...]
    original: Mapping[str, A] = field(default_factory=dict)
    target: Mapping[str, A] = field(default_factory=dict)

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    @property
    def is_empty(self) -> bool:
        """A no-op change: the deployment finishes as soon as it is accepted."""
        return not self.steps


def steps_json(plan: DeploymentPlan[A]) -> list[JSON]:
    """The ``steps`` array (also the body of a group ``dryRun``: ``{"steps": ...}``).

    >>> p = DeploymentPlan("d1", "v", (Step((Action("StartApplication", "/a"),)),), ("/a",))
    >>> steps_json(p)
    [{'actions': [{'action': 'StartApplication', 'app': '/a'}]}]
    """
    return [step.to_json() for step in plan.steps]


def deployment_json(
    plan: DeploymentPlan[A],
    current_step: int,
    current_actions: Sequence[Action] | None = None,
    *,
    readiness: Mapping[str, Sequence[JSON]] | None = None,
) -> JSON:
    """One item of ``GET /v2/deployments``: exactly the eight keys clients accept.

    ``current_step`` is 1-based; 0 means the first step has not started (and then
    ``currentActions`` is empty). ``current_actions`` defaults to the actions of the
    current step; pass it to show only the actions still running. ``readiness`` maps an
    app id to its ``readinessCheckResults`` (default: none).

    >>> p = DeploymentPlan("d1", "2021-01-01T00:00:00.000Z",
    ...     (Step((Action("StartApplication", "/a"),)),
    ...      Step((Action("ScaleApplication", "/a", scale_to=1),))), ("/a",))
    >>> d = deployment_json(p, 2)
    >>> sorted(d)  # doctest: +NORMALIZE_WHITESPACE
    ['affectedApps', 'affectedPods', 'currentActions', 'currentStep', 'id', 'steps',
     'totalSteps', 'version']
    >>> d["currentActions"], d["currentStep"], d["totalSteps"]
    ([{'action': 'ScaleApplication', 'app': '/a', 'readinessCheckResults': []}], 2, 2)
    """
    if not 0 <= current_step <= plan.total_steps:
        raise ValueError(f"step {current_step} of a {plan.total_steps}-step plan")
    if current_actions is None:
        current_actions = plan.steps[current_step - 1].actions if current_step else ()
    results = readiness or {}
    return {
        "id": plan.id,
        "version": plan.version,
        "affectedApps": list(plan.affected_apps),
        "affectedPods": [],
        "steps": steps_json(plan),
        "currentActions": [
            {**a.to_json(), "readinessCheckResults": list(results.get(a.app_id, ()))}
            for a in current_actions
        ],
        "currentStep": current_step,
        "totalSteps": plan.total_steps,
    }


def plan_json(plan: DeploymentPlan[A], original: JSON, target: JSON) -> JSON:
    """The ``plan`` object of the deployment events.

    Marathon 1.8+ dropped ``original``/``target`` from it, but the ``marathon`` Python
    client crashes parsing a plan without them, so the caller passes both root groups
    (GroupInfo JSON without ``enforceRole``).

    >>> p = DeploymentPlan("d1", "v", (), ())
    >>> plan_json(p, {"id": "/"}, {"id": "/"})
    {'id': 'd1', 'steps': [], 'version': 'v', 'original': {'id': '/'}, 'target': {'id': '/'}}
    """
    return {
        "id": plan.id,
        "steps": steps_json(plan),
        "version": plan.version,
        "original": original,
        "target": target,
    }


def conflicts(plan_a: DeploymentPlan[A], plan_b: DeploymentPlan[A]) -> bool:
    """Whether two plans touch a common app (then the second gets 409 unless forced).

    >>> a = DeploymentPlan("d1", "v", (), ("/a", "/b"))
    >>> conflicts(a, DeploymentPlan("d2", "v", (), ("/b",)))
    True
    >>> conflicts(a, DeploymentPlan("d3", "v", (), ("/c",)))
    False
    """
    return not set(plan_a.affected_apps).isdisjoint(plan_b.affected_apps)


def conflicting(
    plan: DeploymentPlan[A], running: Iterable[DeploymentPlan[A]]
) -> list[DeploymentPlan[A]]:
    """The running deployments ``plan`` conflicts with, in the order given.

    Their ids go into the 409 body (``"deployments": [{"id": ...}]``); with ``force``
    they are the ones to cancel.
    """
    return [other for other in running if other.id != plan.id and conflicts(plan, other)]
