"""The deployment planner: from the apps as they are to the apps as they should be.

``plan`` compares two snapshots of the app definitions (``original`` -> ``target``, both
keyed by absolute app id) and returns the ordered steps Marathon would run (reference
section 3.1)::

    step 1    StopApplication  for every app that disappears
    step 2    StartApplication for every new app (0 instances, completes at once)
    step 3..  Scale/Restart for new or changed apps, one step per dependency level:
              apps with no dependencies first, then apps depending only on those, ...

It is pure and generic over the app-definition type: the caller says how to read an
app's dependencies and instance count, and how two versions of one app differ
(``classify``), so this module knows nothing of the app model. Removed apps are stopped
in one step whatever their dependencies (as Marathon does).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Literal, TypeVar

from berth.marathon.deployment import Action, DeploymentPlan, Step

A = TypeVar("A")

Change = Literal["none", "scale", "restart"]

CYCLE_MESSAGE = "Dependency graph has cyclic dependencies."


class DependencyCycle(ValueError):
    """The target's dependency graph has a cycle; ``cycle`` is one of them (ids, closed).

    The message is exactly Marathon's, because clients match on it (422 at the edge).
    """

    def __init__(self, cycle: tuple[str, ...]) -> None:
        super().__init__(CYCLE_MESSAGE)
        self.cycle = cycle


def plan(
    original: Mapping[str, A],
    target: Mapping[str, A],
    *,
    dependencies: Callable[[A], Iterable[str]],
    instances: Callable[[A], int],
    classify: Callable[[A, A], Change],
    restart: Collection[str] = (),
    kill: Mapping[str, Iterable[str]] | None = None,
    deployment_id: str,
    version: str,
) -> DeploymentPlan[A]:
    """The deployment that turns ``original`` into ``target``.

    ``classify(old, new)`` says how an app present in both changed: ``"none"``,
    ``"scale"`` (only ``instances``) or ``"restart"`` (any runtime-relevant field).
    ``restart`` names apps to restart even if unchanged (``POST /v2/apps/{id}/restart``).
    ``kill`` names, per app, instances a scale kills first (task kill with ``scale=true``).
    Per app: new -> Scale(instances); restart requested or config changed -> Restart,
    except to 0 instances -> Scale(0); only instances changed or kills named -> Scale;
    unchanged -> nothing. Raises `DependencyCycle` (a ValueError) on a cycle.

    >>> deps = lambda app: app["deps"]
    >>> n = lambda app: app["n"]
    >>> same = lambda old, new: "none" if old == new else (
    ...     "scale" if {**old, "n": 0} == {**new, "n": 0} else "restart")
    >>> old = {"/db": {"n": 1, "deps": []}, "/old": {"n": 1, "deps": []}}
    >>> new = {"/db": {"n": 1, "deps": [], "img": 2}, "/web": {"n": 2, "deps": ["/db"]}}
    >>> p = plan(old, new, dependencies=deps, instances=n, classify=same,
    ...          deployment_id="d1", version="v1")
    >>> [[(a.kind, a.app_id) for a in s.actions] for s in p.steps]  # doctest: +NORMALIZE_WHITESPACE
    [[('StopApplication', '/old')], [('StartApplication', '/web')],
     [('RestartApplication', '/db')], [('ScaleApplication', '/web')]]
    >>> p.affected_apps
    ('/db', '/old', '/web')
    """
    kills = {app_id: tuple(ids) for app_id, ids in (kill or {}).items()}
    levels = dependency_levels(target, dependencies)

    removed = sorted(app_id for app_id in original if app_id not in target)
    added = sorted(app_id for app_id in target if app_id not in original)

    steps: list[Step] = [
        Step(tuple(Action("StopApplication", app_id) for app_id in removed)),
        Step(tuple(Action("StartApplication", app_id) for app_id in added)),
    ]
    by_level: dict[int, list[Action]] = {}
    for app_id in sorted(target):
        action = _action_for(app_id, original, target, instances, classify, restart, kills)
        if action is not None:
            by_level.setdefault(levels[app_id], []).append(action)
    steps.extend(Step(tuple(by_level[level])) for level in sorted(by_level))
    steps = [step for step in steps if step.actions]

    affected = sorted({a.app_id for step in steps for a in step.actions})
    return DeploymentPlan(
        id=deployment_id,
        version=version,
        steps=tuple(steps),
        affected_apps=tuple(affected),
        original={app_id: original[app_id] for app_id in affected if app_id in original},
        target={app_id: target[app_id] for app_id in affected if app_id in target},
    )


def rollback_plan(
    current: Mapping[str, A],
    deployment: DeploymentPlan[A],
    *,
    dependencies: Callable[[A], Iterable[str]],
    instances: Callable[[A], int],
    classify: Callable[[A, A], Change],
    deployment_id: str,
    version: str,
) -> DeploymentPlan[A]:
    """The deployment that reverts ``deployment``'s apps to their definitions before it.

    ``current`` is the apps as they are now (with ``deployment`` applied, perhaps half
    done). An app the deployment created is removed, one it deleted is re-created, one it
    changed gets its old definition back; apps it did not touch are left alone. This is
    what ``DELETE /v2/deployments/{id}`` (without force) runs, forced over the original.

    >>> n = lambda app: app["n"]
    >>> kw = dict(dependencies=lambda app: [], instances=n,
    ...           classify=lambda o, t: "none" if o == t else "scale")
    >>> d = plan({"/a": {"n": 1}}, {"/a": {"n": 3}, "/b": {"n": 1}},
    ...          deployment_id="d1", version="v1", **kw)
    >>> r = rollback_plan({"/a": {"n": 3}, "/b": {"n": 1}, "/c": {"n": 1}}, d,
    ...                   deployment_id="d2", version="v2", **kw)
    >>> [[(a.kind, a.app_id, a.scale_to) for a in s.actions] for s in r.steps]
    [[('StopApplication', '/b', None)], [('ScaleApplication', '/a', 1)]]
    """
    reverted = dict(current)
    for app_id in deployment.affected_apps:
        if app_id in deployment.original:
            reverted[app_id] = deployment.original[app_id]
        else:
            reverted.pop(app_id, None)
    return plan(
        current,
        reverted,
        dependencies=dependencies,
        instances=instances,
        classify=classify,
        deployment_id=deployment_id,
        version=version,
    )


def dependency_levels(
    apps: Mapping[str, A], dependencies: Callable[[A], Iterable[str]]
) -> dict[str, int]:
    """Each app's longest dependency chain: 0 with no dependencies, else 1 + the deepest.

    A dependency names an app or a group (then every app under it, but not the dependent
    app itself). Dependencies on nothing in ``apps`` are ignored: ordering only concerns
    what this deployment runs. Raises `DependencyCycle` if the graph has a cycle.

    >>> deps = {"/a": [], "/b": ["/a", "/gone"], "/g/c": ["/b"], "/d": ["/g"]}
    >>> dependency_levels(deps, lambda d: d)
    {'/a': 0, '/b': 1, '/g/c': 2, '/d': 3}
    """
    ids = sorted(apps)
    edges = {app_id: _resolve(app_id, dependencies(apps[app_id]), ids) for app_id in ids}
    # Kahn's algorithm, apps with no dependencies first; an app's level is settled once
    # all its dependencies are, which also gives the longest chain. Iterative on purpose:
    # a recursive walk would hit the recursion limit on a long chain.
    waiting = {app_id: len(deps) for app_id, deps in edges.items()}
    dependents: dict[str, list[str]] = {app_id: [] for app_id in ids}
    for app_id, deps in edges.items():
        for dep in deps:
            dependents[dep].append(app_id)
    level = dict.fromkeys(ids, 0)
    ready = [app_id for app_id in ids if waiting[app_id] == 0]
    settled = 0
    while ready:
        app_id = ready.pop()
        settled += 1
        for dependent in dependents[app_id]:
            level[dependent] = max(level[dependent], level[app_id] + 1)
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    if settled < len(ids):
        raise DependencyCycle(_find_cycle({a: d for a, d in edges.items() if waiting[a]}))
    return {app_id: level[app_id] for app_id in apps}


def _resolve(app_id: str, deps: Iterable[str], ids: list[str]) -> frozenset[str]:
    """The app ids in ``ids`` (sorted) that the dependency paths ``deps`` name."""
    named = {"/" + dep.strip("/") for dep in deps}
    found: set[str] = set()
    for path in named:
        i = bisect.bisect_left(ids, path)
        if i < len(ids) and ids[i] == path:
            found.add(path)
        prefix = path.rstrip("/") + "/"
        i = bisect.bisect_left(ids, prefix)
        while i < len(ids) and ids[i].startswith(prefix):
            found.add(ids[i])
            i += 1
    # A dependency on the app's own group covers the app itself, which means "the
    # others"; an app naming itself is a cycle, as in Marathon.
    if app_id not in named:
        found.discard(app_id)
    return frozenset(found)


def _find_cycle(edges: Mapping[str, frozenset[str]]) -> tuple[str, ...]:
    """One cycle in a graph where every node still has an unsettled dependency.

    Every node here waits on another node here, so walking any dependency edge from
    any node must eventually revisit a node: the walk from that first revisit is a cycle.
    """
    start = min(edges)
    seen: dict[str, int] = {}
    path: list[str] = []
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(dep for dep in edges[node] if dep in edges)
    return (*path[seen[node] :], node)


def _action_for(
    app_id: str,
    original: Mapping[str, A],
    target: Mapping[str, A],
    instances: Callable[[A], int],
    classify: Callable[[A, A], Change],
    restart: Collection[str],
    kills: Mapping[str, tuple[str, ...]],
) -> Action | None:
    new = target[app_id]
    count = instances(new)
    if app_id not in original:
        return Action("ScaleApplication", app_id, scale_to=count)
    old = original[app_id]
    change = classify(old, new)
    if change == "restart" or app_id in restart:
        # Restarting towards 0 instances is just stopping them all: a scale, which
        # needs no upgrade capacity bookkeeping (Marathon requires instances > 0 to
        # restart).
        if count == 0:
            return Action("ScaleApplication", app_id, scale_to=0, kill=kills.get(app_id, ()))
        return Action("RestartApplication", app_id)
    # A classifier that calls an instance change "none" would otherwise lose a scale.
    if change == "scale" or kills.get(app_id) or instances(old) != count:
        return Action("ScaleApplication", app_id, scale_to=count, kill=kills.get(app_id, ()))
    return None
