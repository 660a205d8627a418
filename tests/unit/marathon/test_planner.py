"""The planner: reference 3.1 case by case, dependency ordering, cycles, rollback, and
properties over random before/after snapshots."""

from __future__ import annotations

import doctest
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import berth.marathon.planner as planner_module
from berth.marathon.deployment import Action, DeploymentPlan
from berth.marathon.planner import (
    CYCLE_MESSAGE,
    Change,
    DependencyCycle,
    dependency_levels,
    plan,
    rollback_plan,
)


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(planner_module)
    assert failures == 0


# --------------------------------------------------------------------------- a toy app model


@dataclass(frozen=True)
class App:
    """Just enough of an app for the planner: its instances, dependencies and config."""

    instances: int = 1
    deps: tuple[str, ...] = ()
    cmd: str = "sleep 1000"


def classify(old: App, new: App) -> Change:
    if replace(old, instances=0) != replace(new, instances=0):
        return "restart"
    return "none" if old.instances == new.instances else "scale"


def make_plan(
    original: Mapping[str, App],
    target: Mapping[str, App],
    *,
    restart: Iterable[str] = (),
    kill: Mapping[str, Iterable[str]] | None = None,
) -> DeploymentPlan[App]:
    return plan(
        original,
        target,
        dependencies=lambda a: a.deps,
        instances=lambda a: a.instances,
        classify=classify,
        restart=frozenset(restart),
        kill=kill,
        deployment_id="d-1",
        version="2021-01-01T00:00:00.000Z",
    )


def shape(p: DeploymentPlan[App]) -> list[list[tuple[str, str, int | None]]]:
    return [[(a.kind, a.app_id, a.scale_to) for a in step.actions] for step in p.steps]


# --------------------------------------------------------------------------- section 3.1


def test_new_app_is_start_then_scale() -> None:
    p = make_plan({}, {"/a": App(instances=2)})
    assert shape(p) == [
        [("StartApplication", "/a", None)],
        [("ScaleApplication", "/a", 2)],
    ]
    assert p.affected_apps == ("/a",)
    assert (p.id, p.version) == ("d-1", "2021-01-01T00:00:00.000Z")
    assert p.original == {}
    assert p.target == {"/a": App(instances=2)}


def test_scale_is_one_scale_step() -> None:
    p = make_plan({"/a": App(instances=1)}, {"/a": App(instances=5)})
    assert shape(p) == [[("ScaleApplication", "/a", 5)]]
    assert p.original == {"/a": App(instances=1)}


def test_config_change_is_one_restart_step() -> None:
    p = make_plan({"/a": App()}, {"/a": App(cmd="sleep 2000", instances=3)})
    assert shape(p) == [[("RestartApplication", "/a", None)]]


def test_config_change_to_zero_instances_is_a_scale() -> None:
    p = make_plan({"/a": App(instances=2)}, {"/a": App(cmd="other", instances=0)})
    assert shape(p) == [[("ScaleApplication", "/a", 0)]]


def test_restart_requested_with_identical_config() -> None:
    p = make_plan({"/a": App()}, {"/a": App()}, restart=["/a"])
    assert shape(p) == [[("RestartApplication", "/a", None)]]


def test_identical_definition_changes_nothing() -> None:
    apps = {"/a": App(), "/b": App(deps=("/a",))}
    p = make_plan(apps, dict(apps))
    assert p.steps == ()
    assert p.affected_apps == ()
    assert p.is_empty


def test_removed_apps_stop_in_the_first_step_whatever_their_dependencies() -> None:
    original = {"/db": App(), "/web": App(deps=("/db",)), "/keep": App()}
    p = make_plan(original, {"/keep": App(), "/new": App()})
    assert shape(p) == [
        [("StopApplication", "/db", None), ("StopApplication", "/web", None)],
        [("StartApplication", "/new", None)],
        [("ScaleApplication", "/new", 1)],
    ]


def test_kill_with_scale_names_instances_to_kill_first() -> None:
    p = make_plan({"/a": App(instances=3)}, {"/a": App(instances=2)}, kill={"/a": ["i1"]})
    assert p.steps[0].actions == (Action("ScaleApplication", "/a", scale_to=2, kill=("i1",)),)


def test_named_kills_alone_make_a_scale() -> None:
    # Killing with scale=true an instance of an app already at its count: still a scale.
    p = make_plan({"/a": App(instances=2)}, {"/a": App(instances=2)}, kill={"/a": ["i1"]})
    assert shape(p) == [[("ScaleApplication", "/a", 2)]]


def test_instance_change_missed_by_the_classifier_is_still_a_scale() -> None:
    p = plan(
        {"/a": App(instances=1)},
        {"/a": App(instances=4)},
        dependencies=lambda a: a.deps,
        instances=lambda a: a.instances,
        classify=lambda old, new: "none",
        deployment_id="d",
        version="v",
    )
    assert shape(p) == [[("ScaleApplication", "/a", 4)]]


# --------------------------------------------------------------------------- dependencies


def test_changed_apps_are_grouped_by_longest_dependency_chain() -> None:
    # /db <- /api <- /web, and /web also depends on /db directly: /web is level 2, not 1.
    # /cache has no dependencies: level 0 with /db.
    target = {
        "/db": App(instances=2),
        "/api": App(instances=2, deps=("/db",)),
        "/web": App(instances=2, deps=("/api", "/db")),
        "/cache": App(instances=2),
    }
    p = make_plan({}, target)
    assert shape(p)[1:] == [
        [("ScaleApplication", "/cache", 2), ("ScaleApplication", "/db", 2)],
        [("ScaleApplication", "/api", 2)],
        [("ScaleApplication", "/web", 2)],
    ]


def test_unchanged_apps_still_define_the_levels_but_run_nothing() -> None:
    original = {"/db": App(), "/web": App(deps=("/db",))}
    p = make_plan(original, {"/db": App(), "/web": App(deps=("/db",), cmd="new")})
    assert shape(p) == [[("RestartApplication", "/web", None)]]


def test_dependencies_outside_the_target_are_ignored() -> None:
    p = make_plan({}, {"/web": App(deps=("/nowhere",))})
    assert shape(p)[-1] == [("ScaleApplication", "/web", 1)]
    assert dependency_levels({"/web": App(deps=("/nowhere",))}, lambda a: a.deps) == {"/web": 0}


def test_group_dependency_covers_every_app_under_it() -> None:
    apps = {
        "/db/primary": App(),
        "/db/replica": App(deps=("/db/primary",)),
        "/dbx": App(),  # shares a prefix, not the group
        "/web": App(deps=("db",)),  # relative paths are taken from the root
    }
    assert dependency_levels(apps, lambda a: a.deps) == {
        "/db/primary": 0,
        "/db/replica": 1,
        "/dbx": 0,
        "/web": 2,
    }


def test_dependency_on_own_group_means_the_others() -> None:
    apps = {"/g/a": App(deps=("/g",)), "/g/b": App()}
    assert dependency_levels(apps, lambda a: a.deps) == {"/g/a": 1, "/g/b": 0}


@pytest.mark.parametrize(
    ("apps", "cycle"),
    [
        ({"/a": App(deps=("/b",)), "/b": App(deps=("/a",))}, ("/a", "/b", "/a")),
        ({"/a": App(deps=("/a",))}, ("/a", "/a")),
        (
            {
                "/x": App(),
                "/a": App(deps=("/c",)),
                "/b": App(deps=("/a",)),
                "/c": App(deps=("/b",)),
            },
            ("/a", "/c", "/b", "/a"),
        ),
        ({"/g/a": App(deps=("/g",)), "/g/b": App(deps=("/g",))}, ("/g/a", "/g/b", "/g/a")),
    ],
)
def test_cycles_are_refused_with_marathons_message(
    apps: dict[str, App], cycle: tuple[str, ...]
) -> None:
    with pytest.raises(DependencyCycle) as caught:
        make_plan({}, apps)
    assert str(caught.value) == CYCLE_MESSAGE == "Dependency graph has cyclic dependencies."
    assert isinstance(caught.value, ValueError)
    assert caught.value.cycle == cycle


def test_a_long_chain_does_not_recurse() -> None:
    chain = {f"/a{k:05d}": App(deps=(f"/a{k - 1:05d}",) if k else ()) for k in range(5000)}
    levels = dependency_levels(chain, lambda a: a.deps)
    assert levels["/a04999"] == 4999


# --------------------------------------------------------------------------- rollback


def test_rollback_reverts_only_the_deployments_apps() -> None:
    original = {"/changed": App(cmd="v1"), "/deleted": App(instances=2), "/other": App()}
    target = {"/changed": App(cmd="v2"), "/created": App(), "/other": App()}
    deployment = make_plan(original, target)
    assert deployment.affected_apps == ("/changed", "/created", "/deleted")
    # Meanwhile /other was scaled by someone else: the rollback leaves it alone.
    current = {**target, "/other": App(instances=7)}
    rollback = rollback_plan(
        current,
        deployment,
        dependencies=lambda a: a.deps,
        instances=lambda a: a.instances,
        classify=classify,
        deployment_id="d-2",
        version="2021-01-01T00:00:01.000Z",
    )
    assert shape(rollback) == [
        [("StopApplication", "/created", None)],
        [("StartApplication", "/deleted", None)],
        [("RestartApplication", "/changed", None), ("ScaleApplication", "/deleted", 2)],
    ]
    assert rollback.target == {"/changed": App(cmd="v1"), "/deleted": App(instances=2)}
    assert rollback.id == "d-2"


# --------------------------------------------------------------------------- properties

ids = st.sampled_from([f"/g{k % 2}/app{k}" for k in range(8)])
apps = st.builds(
    App,
    instances=st.integers(0, 3),
    deps=st.lists(ids, max_size=2).map(tuple),
    cmd=st.sampled_from(["a", "b"]),
)


def acyclic(snapshot: dict[str, App]) -> dict[str, App]:
    """Keep only dependencies on apps with a smaller id: never a cycle (group
    dependencies are not generated, only app ids)."""
    return {
        app_id: replace(app, deps=tuple(d for d in app.deps if d < app_id))
        for app_id, app in snapshot.items()
    }


snapshots = st.dictionaries(ids, apps, max_size=8).map(acyclic)


@settings(max_examples=300, deadline=None)
@given(original=snapshots, target=snapshots, restart=st.sets(ids, max_size=2))
def test_plan_properties(
    original: dict[str, App], target: dict[str, App], restart: set[str]
) -> None:
    p = make_plan(original, target, restart=restart)
    actions = [(index, a) for index, step in enumerate(p.steps) for a in step.actions]
    assert all(step.actions for step in p.steps)  # empty steps dropped
    # Every removed app is stopped, in the first step, and nothing else happens to it.
    removed = set(original) - set(target)
    stops = {a.app_id for i, a in actions if a.kind == "StopApplication"}
    assert stops == removed
    assert all(i == 0 for i, a in actions if a.kind == "StopApplication")
    # Every new app is started, then scaled to its instances in a later step.
    added = set(target) - set(original)
    starts = {a.app_id: i for i, a in actions if a.kind == "StartApplication"}
    assert set(starts) == added
    for i, a in actions:
        if a.app_id in added and a.kind == "ScaleApplication":
            assert i > starts[a.app_id]
            assert a.scale_to == target[a.app_id].instances
    # Each app has at most one action besides its start.
    others = [a.app_id for _, a in actions if a.kind != "StartApplication"]
    assert len(others) == len(set(others))
    # Existing apps get an action exactly when changed or restarted.
    for app_id in set(original) & set(target):
        changed = original[app_id] != target[app_id] or app_id in restart
        assert (app_id in others) == changed
    # A dependency in the target runs its action in an earlier step than the dependent.
    step_of = {a.app_id: i for i, a in actions if a.kind != "StartApplication"}
    for app_id, index in step_of.items():
        for dep in target.get(app_id, App()).deps:
            if dep in step_of and app_id in target and dep in target:
                assert step_of[dep] < index
    assert p.affected_apps == tuple(sorted({a.app_id for _, a in actions}))
    # Planning the target against itself is a no-op.
    assert make_plan(target, target).steps == ()


@settings(max_examples=200, deadline=None)
@given(original=snapshots, target=snapshots)
def test_rollback_of_a_whole_deployment_restores_the_original(
    original: dict[str, App], target: dict[str, App]
) -> None:
    deployment = make_plan(original, target)
    rollback = rollback_plan(
        target,
        deployment,
        dependencies=lambda a: a.deps,
        instances=lambda a: a.instances,
        classify=classify,
        deployment_id="d-2",
        version="v2",
    )
    # Applying the rollback to the target gives back the original definitions.
    restored = dict(target)
    for app_id in rollback.affected_apps:
        if app_id in rollback.target:
            restored[app_id] = rollback.target[app_id]
        else:
            del restored[app_id]
    assert restored == original
    assert set(rollback.affected_apps) == set(deployment.affected_apps)
