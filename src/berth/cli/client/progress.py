"""How far a deployment has got, folded from marathon's events (pure).

``--wait`` and ``deployment watch`` subscribe to ``/v2/events`` *before* they start (or
look up) the deployment, so no event is missed, then fold each event into a `Watch`:

- ``deployment_info``: the plan (its steps, the target instance counts) and the step
  now running;
- ``deployment_step_success``: that step is done;
- ``deployment_success`` / ``deployment_failed``: the end (``reason`` when given);
- ``status_update_event``: a task of an affected app started or ended, so the bar moves
  inside a long step too.

Steps are located by their actions within the plan rather than counted, so folding the
same event twice, or an event the initial ``/v2/deployments`` snapshot already showed,
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Outcome = Literal["running", "succeeded", "failed"]
Action = tuple[str, str]  # (kind, app id), e.g. ("ScaleApplication", "/web")

# A task in one of these is not (or no longer) serving.
_GONE = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_KILLING",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
        "TASK_UNREACHABLE",
        "TASK_UNKNOWN",
    }
)


@dataclass(frozen=True, slots=True)
class Watch:
    """One deployment as far as the events seen so far tell.

    ``steps`` is the plan (each step its actions); empty until the plan is known.
    ``targets`` maps an app to the instance count the deployment ends with; ``running``
    an affected app to its task ids known to be running.
    """

    deployment_id: str
    steps: tuple[tuple[Action, ...], ...] = ()
    steps_done: int = 0
    current: tuple[Action, ...] = ()
    targets: Mapping[str, int] = field(default_factory=dict)
    running: Mapping[str, frozenset[str]] = field(default_factory=dict)
    outcome: Outcome = "running"
    reason: str = ""

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    @property
    def apps(self) -> frozenset[str]:
        """The apps the deployment changes (the plan's target holds every app)."""
        return frozenset(app for step in self.steps for _, app in step)

    @property
    def done(self) -> bool:
        return self.outcome != "running"


def _actions(items: Any) -> tuple[Action, ...]:
    if not isinstance(items, list):
        return ()
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append((str(item.get("action", "")), str(item.get("app", ""))))
    return tuple(out)


def _plan_steps(plan: Any) -> tuple[tuple[Action, ...], ...]:
    steps = plan.get("steps") if isinstance(plan, dict) else None
    if not isinstance(steps, list):
        return ()
    return tuple(_actions(s.get("actions") if isinstance(s, dict) else None) for s in steps)


def _plan_targets(plan: Any) -> dict[str, int]:
    target = plan.get("target") if isinstance(plan, dict) else None
    apps = target.get("apps") if isinstance(target, dict) else None
    out: dict[str, int] = {}
    for app in apps if isinstance(apps, list) else ():
        if isinstance(app, dict) and isinstance(app.get("id"), str):
            instances = app.get("instances", 1)
            out[app["id"]] = instances if isinstance(instances, int) else 1
    return out


def _step_index(steps: Sequence[tuple[Action, ...]], actions: tuple[Action, ...]) -> int | None:
    for i, step in enumerate(steps):
        if set(step) == set(actions):
            return i
    return None


def from_deployment(item: Mapping[str, Any]) -> Watch:
    """The starting point from one ``GET /v2/deployments`` item.

    >>> w = from_deployment({"id": "d1", "currentStep": 2, "totalSteps": 2, "steps": [
    ...     {"actions": [{"action": "StartApplication", "app": "/a"}]},
    ...     {"actions": [{"action": "ScaleApplication", "app": "/a"}]}]})
    >>> w.steps_done, w.total_steps, w.current
    (1, 2, (('ScaleApplication', '/a'),))
    """
    steps = _plan_steps(item)
    current = item.get("currentStep")
    done = max(0, current - 1) if isinstance(current, int) else 0
    done = min(done, len(steps))
    return Watch(
        deployment_id=str(item.get("id", "")),
        steps=steps,
        steps_done=done,
        current=steps[done] if done < len(steps) else (),
    )


def seed_app(watch: Watch, app_id: str, instances: int, running: Sequence[str]) -> Watch:
    """Record what an app looked like when watching began (events only tell changes):
    its target instance count (unless the plan gave one) and its running task ids.

    >>> seed_app(Watch("d"), "/a", 3, ["t1"]).running
    {'/a': frozenset({'t1'})}
    """
    targets = dict(watch.targets)
    targets.setdefault(app_id, instances)
    return replace(watch, targets=targets, running={**watch.running, app_id: frozenset(running)})


def _event_deployment_id(event: Mapping[str, Any]) -> str | None:
    plan = event.get("plan")
    if isinstance(plan, dict) and isinstance(plan.get("id"), str):
        return str(plan["id"])
    value = event.get("id")
    return value if isinstance(value, str) else None


def apply(watch: Watch, event: Mapping[str, Any]) -> Watch:
    """``watch`` after ``event`` (events about other deployments change nothing).

    >>> plan = {"id": "d1", "steps": [{"actions": [{"action": "ScaleApplication",
    ...     "app": "/a"}]}], "target": {"apps": [{"id": "/a", "instances": 2}]}}
    >>> w = apply(Watch("d1"), {"eventType": "deployment_info", "plan": plan,
    ...     "currentStep": {"actions": [{"action": "ScaleApplication", "app": "/a"}]}})
    >>> w = apply(w, {"eventType": "status_update_event", "appId": "/a",
    ...     "taskId": "t1", "taskStatus": "TASK_RUNNING"})
    >>> fraction(w), describe(w)
    (0.5, 'step 1/1: scale /a (1/2 running)')
    >>> apply(w, {"eventType": "deployment_success", "id": "d1", "plan": plan}).outcome
    'succeeded'
    """
    kind = event.get("eventType")
    if kind == "status_update_event":
        app = event.get("appId")
        task = event.get("taskId")
        state = event.get("taskStatus")
        if not (isinstance(app, str) and isinstance(task, str) and app in watch.apps):
            return watch
        now = set(watch.running.get(app, frozenset()))
        if state == "TASK_RUNNING":
            now.add(task)
        elif state in _GONE:
            now.discard(task)
        else:
            return watch
        return replace(watch, running={**watch.running, app: frozenset(now)})
    if kind not in (
        "deployment_info",
        "deployment_step_success",
        "deployment_success",
        "deployment_failed",
    ):
        return watch
    if _event_deployment_id(event) != watch.deployment_id or watch.done:
        return watch
    plan = event.get("plan")
    steps = _plan_steps(plan) or watch.steps
    targets = _plan_targets(plan) or dict(watch.targets)
    watch = replace(watch, steps=steps, targets=targets)
    if kind == "deployment_success":
        return replace(watch, outcome="succeeded", steps_done=len(steps), current=())
    if kind == "deployment_failed":
        reason = event.get("reason")
        return replace(watch, outcome="failed", reason=reason if isinstance(reason, str) else "")
    current_step = event.get("currentStep")
    actions = _actions(current_step.get("actions") if isinstance(current_step, dict) else None)
    index = _step_index(steps, actions)
    if index is None:
        return watch
    if kind == "deployment_info":
        done = max(watch.steps_done, index)
        return replace(watch, steps_done=done, current=steps[done] if done < len(steps) else ())
    done = max(watch.steps_done, index + 1)
    return replace(watch, steps_done=done, current=steps[done] if done < len(steps) else ())


def _action_fraction(watch: Watch, action: Action) -> float:
    kind, app = action
    if kind not in ("StartApplication", "ScaleApplication", "RestartApplication"):
        return 0.0
    target = watch.targets.get(app, 0)
    if target <= 0:
        return 0.0
    return min(len(watch.running.get(app, ())), target) / target


def fraction(watch: Watch) -> float:
    """Between 0 and 1: whole steps done plus the running share of the current one.

    A step's own share stays below a whole step until marathon says the step is done
    (instances running is not yet instances healthy).

    >>> fraction(Watch("d", steps=((("StartApplication", "/a"),),) * 2, steps_done=1))
    0.5
    >>> fraction(Watch("d", outcome="succeeded"))
    1.0
    """
    if watch.outcome == "succeeded":
        return 1.0
    total = watch.total_steps
    if total == 0:
        return 0.0
    done = min(watch.steps_done, total)
    inside = 0.0
    if watch.current and done < total:
        shares = [_action_fraction(watch, a) for a in watch.current]
        inside = min(0.99, sum(shares) / len(shares))
    return min(1.0, (done + inside) / total)


_VERBS = {
    "StartApplication": "start",
    "ScaleApplication": "scale",
    "RestartApplication": "restart",
    "StopApplication": "stop",
    "ResolveArtifacts": "fetch artifacts of",
}


def describe(watch: Watch) -> str:
    """One line saying where the deployment is.

    >>> describe(Watch("d", outcome="failed", reason="stopped"))
    'failed: stopped'
    >>> describe(Watch("d"))
    'waiting for the plan'
    """
    if watch.outcome == "succeeded":
        return "done"
    if watch.outcome == "failed":
        return f"failed: {watch.reason}" if watch.reason else "failed"
    if not watch.steps:
        return "waiting for the plan"
    step = min(watch.steps_done + 1, watch.total_steps)
    parts = []
    for kind, app in watch.current:
        text = f"{_VERBS.get(kind, kind)} {app}"
        target = watch.targets.get(app)
        if kind in ("StartApplication", "ScaleApplication", "RestartApplication") and target:
            text += f" ({min(len(watch.running.get(app, ())), target)}/{target} running)"
        parts.append(text)
    return f"step {step}/{watch.total_steps}: " + (", ".join(parts) or "finishing")


def waiting_reasons(queue_item: Mapping[str, Any] | None, limit: int = 3) -> list[str]:
    """Why an app's queued instances are not launched: the reasons marathon gave for the
    last offers it turned down (``GET /v2/queue?embed=lastUnusedOffers``), most common
    first, each once.

    >>> item = {"count": 1, "lastUnusedOffers": [
    ...     {"reason": "UnfulfilledConstraint", "detail": "hostname UNIQUE"},
    ...     {"reason": "InsufficientCpus", "detail": "insufficient cpus: 50 needed, 2 offered"},
    ...     {"reason": "UnfulfilledConstraint", "detail": "hostname UNIQUE"}]}
    >>> waiting_reasons(item)
    ['hostname UNIQUE', 'insufficient cpus: 50 needed, 2 offered']
    >>> waiting_reasons(None), waiting_reasons({"count": 0, "lastUnusedOffers": []})
    ([], [])
    """
    if not queue_item or not queue_item.get("count"):
        return []
    counts: dict[str, int] = {}
    for offer in queue_item.get("lastUnusedOffers") or []:
        if isinstance(offer, Mapping):
            text = str(offer.get("detail") or offer.get("reason") or "").strip()
            if text:
                counts[text] = counts.get(text, 0) + 1
    ranked = sorted(counts, key=lambda text: -counts[text])  # stable: first seen first
    return ranked[:limit]


def app_state_line(app: Mapping[str, Any]) -> str:
    """The final state of one app, as ``--wait`` prints it.

    >>> app_state_line({"id": "/web", "instances": 3, "tasksRunning": 3})
    '/web: 3/3 running'
    >>> app_state_line({"id": "/web", "instances": 2, "tasksRunning": 2, "tasksHealthy": 1,
    ...     "healthChecks": [{"protocol": "HTTP"}]})
    '/web: 2/2 running, 1 healthy'
    """
    running = app.get("tasksRunning", 0)
    line = f"{app.get('id')}: {running}/{app.get('instances', 0)} running"
    if app.get("healthChecks"):
        line += f", {app.get('tasksHealthy', 0)} healthy"
    if app.get("tasksStaged"):
        line += f", {app['tasksStaged']} staged"
    return line
