"""The group tree (reference 1, /v2/groups): operations keep every app under its parent,
updates replace listed children and keep omitted ones, scaleBy rounds up, dependencies
resolve and cycles are found."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.core.errors import NotFound
from berth.marathon.models import (
    ROOT,
    AppDefinition,
    Group,
    GroupUpdate,
    InvalidJsonError,
    MarathonValidationError,
    PathId,
    dependency_graph,
    find_cycle,
    parse_group_update,
    render_app,
    render_group,
    scaled_instances,
    validate_group_update,
    validate_root_group,
)
from tests.unit.marathon.appjson import ids

T1 = datetime(2021, 7, 27, 14, 40, 33, 123000, tzinfo=UTC)


def p(text: str) -> PathId:
    return PathId.parse(text)


def app(path: str, *deps: str, instances: int = 1) -> AppDefinition:
    return AppDefinition(
        id=p(path), cmd="serve", instances=instances, dependencies=tuple(map(p, deps))
    )


def tree(*apps: AppDefinition) -> Group:
    root = Group(ROOT)
    for a in apps:
        root = root.with_app(a)
    return root


def app_ids(group: Group) -> list[str]:
    return sorted(str(a.id) for a in group.transitive_apps())


def assert_consistent(root: Group) -> None:
    """The tree invariants: every child directly under its group, no path used twice."""
    seen: set[PathId] = set()
    for group in root.transitive_groups():
        assert group.id not in seen
        seen.add(group.id)
        for key, child in group.groups.items():
            assert key == child.id
            assert child.id.is_child_of(group.id)
        for key, a in group.apps.items():
            assert key == a.id
            assert a.id.is_child_of(group.id)
            assert a.id not in seen
            seen.add(a.id)


# -- lookups and simple changes ----------------------------------------------------------


def test_with_app_creates_the_enclosing_groups() -> None:
    root = tree(app("/prod/web/frontend"))
    assert root.group(p("/prod/web")) is not None
    assert root.app(p("/prod/web/frontend")) == app("/prod/web/frontend")
    assert root.app(p("/prod/web")) is None
    assert root.group(p("/nope")) is None
    assert_consistent(root)


def test_with_app_replaces_an_existing_app() -> None:
    root = tree(app("/a", instances=1), app("/a", instances=4))
    assert [a.instances for a in root.transitive_apps()] == [4]


def test_apps_and_groups_never_share_a_path() -> None:
    root = tree(app("/g/x"))
    with pytest.raises(MarathonValidationError, match="is a group"):
        root.with_app(app("/g"))
    with pytest.raises(MarathonValidationError, match="apps cannot contain"):
        root.with_app(app("/g/x/y"))
    with pytest.raises(MarathonValidationError, match="is an app"):
        root.update_group(GroupUpdate(id=p("/g/x")))


def test_without_app_keeps_the_groups_and_reports_unknown_apps() -> None:
    root = tree(app("/g/a"), app("/g/b")).without_app(p("/g/a"))
    assert app_ids(root) == ["/g/b"]
    emptied = root.without_app(p("/g/b"))
    assert emptied.group(p("/g")) is not None
    assert app_ids(emptied) == []
    with pytest.raises(NotFound, match="App '/g/a' does not exist"):
        root.without_app(p("/g/a"))


def test_without_group_removes_the_subtree_and_the_root_empties() -> None:
    root = tree(app("/a/b/c"), app("/d"))
    assert app_ids(root.without_group(p("/a"))) == ["/d"]
    emptied = root.without_group(ROOT)
    assert emptied.is_empty()
    assert emptied.id == ROOT
    with pytest.raises(NotFound, match="Group '/x' does not exist"):
        root.without_group(p("/x"))


def test_operations_share_untouched_subtrees() -> None:
    root = tree(app("/left/a"), app("/right/b"))
    changed = root.with_app(app("/left/c"))
    assert changed.group(p("/right")) is root.group(p("/right"))
    assert root.app(p("/left/c")) is None  # the original tree is untouched


# -- group updates -----------------------------------------------------------------------


def test_update_replaces_listed_children_and_keeps_omitted_ones() -> None:
    root = tree(app("/g/a"), app("/g/sub/x"), app("/g/other/y"))
    # apps given: /g's apps are exactly these; groups omitted: kept.
    updated = root.update_group(GroupUpdate(id=p("/g"), apps=(app("/g/b"),)))
    assert app_ids(updated) == ["/g/b", "/g/other/y", "/g/sub/x"]
    # groups given: unlisted subgroups go; listed ones are updated recursively.
    updated = root.update_group(
        GroupUpdate(id=p("/g"), groups=(GroupUpdate(id=p("/g/sub"), dependencies=(p("/g/a"),)),))
    )
    assert app_ids(updated) == ["/g/a", "/g/sub/x"]
    sub = updated.group(p("/g/sub"))
    assert sub is not None
    assert sub.dependencies == (p("/g/a"),)
    assert_consistent(updated)


def test_update_creates_missing_groups_and_stamps_the_version() -> None:
    updated = Group(ROOT).update_group(
        GroupUpdate(id=p("/a/b"), apps=(app("/a/b/web"),), groups=(GroupUpdate(id=p("/a/b/c")),)),
        version=T1,
    )
    assert updated.group(p("/a/b/c")) is not None
    b = updated.group(p("/a/b"))
    assert b is not None
    assert b.version == T1
    assert_consistent(updated)


def test_update_refuses_children_outside_the_group() -> None:
    with pytest.raises(MarathonValidationError) as e:
        Group(ROOT).update_group(
            GroupUpdate(id=p("/g"), apps=(app("/g/x/y"),), groups=(GroupUpdate(id=p("/h")),))
        )
    assert e.value.details == [
        {"path": "/apps(0)/id", "errors": ["Identifier is not child of '/g'"]},
        {"path": "/groups(0)/id", "errors": ["Identifier is not child of '/g'"]},
    ]


def test_scale_by_rounds_up_every_transitive_app() -> None:
    root = tree(app("/a", instances=3), app("/g/b", instances=10), app("/g/h/c", instances=0))
    scaled = root.scale_by(1.1)
    assert {str(a.id): a.instances for a in scaled.transitive_apps()} == {
        "/a": 4,
        "/g/b": 11,
        "/g/h/c": 0,
    }
    assert {a.instances for a in root.scale_by(0).transitive_apps()} == {0}
    with pytest.raises(ValueError, match="non-negative"):
        root.scale_by(-1)


@given(st.integers(0, 10_000), st.floats(0, 100, allow_nan=False))
def test_scaled_instances_is_the_smallest_count_not_below_the_product(
    n: int, factor: float
) -> None:
    from decimal import Decimal

    scaled = scaled_instances(n, factor)
    exact = Decimal(n) * Decimal(repr(factor))
    assert scaled >= exact > scaled - 1
    assert scaled == math.ceil(exact)


# -- parsing group bodies ----------------------------------------------------------------


def test_parse_group_update_resolves_ids_against_the_enclosing_group() -> None:
    body = {
        "id": "prod",
        "apps": [{"id": "web", "cmd": "serve", "dependencies": ["db", "../shared/cache"]}],
        "groups": [{"id": "db", "apps": [{"id": "pg", "cmd": "postgres"}]}],
        "dependencies": ["/shared"],
    }
    u = parse_group_update(body)
    assert u.id == p("/prod")
    assert [str(a.id) for a in u.apps or ()] == ["/prod/web"]
    assert [str(d) for d in (u.apps or ())[0].dependencies] == ["/prod/db", "/shared/cache"]
    (db,) = u.groups or ()
    assert db.id == p("/prod/db")
    assert [str(a.id) for a in db.apps or ()] == ["/prod/db/pg"]
    assert u.dependencies == (p("/shared"),)
    assert validate_group_update(u) == []


def test_parse_group_update_id_sources() -> None:
    assert parse_group_update({}, p("/g")).id == p("/g")
    assert parse_group_update({"id": "sub"}, p("/foo")).id == p("/foo/sub")
    assert parse_group_update({"id": "x"}, group_id=p("/url")).id == p("/url")


def test_apps_nested_too_deep_are_not_children() -> None:
    # Marathon's own test: POST /v2/groups/foo {"id":"sub","apps":[{"id":"lol/bibi"}]}.
    u = parse_group_update(
        {"id": "sub", "apps": [{"id": "lol/bibi", "cmd": "sleep 1200"}]}, p("/foo")
    )
    found = validate_group_update(u)
    assert [(v.path, v.message) for v in found] == [
        ("/apps(0)/id", "Identifier is not child of '/foo/sub'")
    ]


def test_group_update_shape_errors_carry_nested_paths() -> None:
    body = {"groups": [{"apps": [{"id": "a", "cpus": "x"}]}, "nope"], "scaleBy": "2"}
    with pytest.raises(InvalidJsonError) as e:
        parse_group_update(body)
    assert e.value.details == [
        {"path": "/groups(0)/apps(0)/cpus", "errors": ["error.expected.jsnumber"]},
        {"path": "/groups(0)/id", "errors": ["error.path.missing"]},
        {"path": "/groups(1)", "errors": ["error.expected.jsobject"]},
        {"path": "/scaleBy", "errors": ["error.expected.jsnumber"]},
    ]


def test_group_update_legacy_conflicts_carry_nested_paths() -> None:
    body = {"id": "g", "apps": [{"id": "a", "cmd": "xx", "uris": ["u"], "fetch": [{"uri": "v"}]}]}
    with pytest.raises(MarathonValidationError) as e:
        parse_group_update(body)
    assert e.value.details == [
        {"path": "/apps(0)/uris", "errors": ["may not be set in conjunction with fetch"]}
    ]


def test_validate_group_update_reports_each_apps_problems_at_its_path() -> None:
    u = parse_group_update(
        {"id": "g", "groups": [{"id": "h", "apps": [{"id": "a", "cmd": "x y", "args": ["z"]}]}]}
    )
    assert [(v.path, v.message[:25]) for v in validate_group_update(u)] == [
        ("/groups(0)/apps(0)", "AppDefinition must either")
    ]


def test_scale_by_and_version_are_exclusive_with_contents() -> None:
    u = parse_group_update({"id": "g", "scaleBy": 2, "apps": []})
    assert [v.path for v in validate_group_update(u)] == ["/"]
    special = parse_group_update({"scaleBy": 1.5}, p("/g"))
    assert (special.scale_by, special.apps, special.groups) == (1.5, None, None)
    assert validate_group_update(special) == []


def test_groups_cannot_depend_on_themselves() -> None:
    u = parse_group_update({"id": "g", "dependencies": ["/g", "/"]})
    assert [v.path for v in validate_group_update(u)] == ["/dependencies(0)", "/dependencies(1)"]


# -- dependencies ------------------------------------------------------------------------


def test_dependency_graph_expands_groups_and_ignores_unknown_paths() -> None:
    root = tree(
        app("/db/pg"), app("/db/redis"), app("/web", "/db", "/nothing"), app("/job", "/web")
    )
    graph = dependency_graph(root)
    assert graph[p("/web")] == {p("/db/pg"), p("/db/redis")}
    assert graph[p("/job")] == {p("/web")}
    assert graph[p("/db/pg")] == frozenset()


def test_group_dependencies_apply_to_every_app_inside() -> None:
    root = tree(app("/db/pg"), app("/front/web"), app("/front/deep/api"))
    root = root.update_group(GroupUpdate(id=p("/front"), dependencies=(p("/db"),)))
    graph = dependency_graph(root)
    assert graph[p("/front/web")] == graph[p("/front/deep/api")] == {p("/db/pg")}


def test_cycles_are_found_and_reported() -> None:
    root = tree(app("/a", "/b"), app("/b", "/c"), app("/c", "/a"), app("/d", "/a"))
    cycle = find_cycle(dependency_graph(root))
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {p("/a"), p("/b"), p("/c")}
    (violation,) = validate_root_group(root)
    assert violation.path == "/"
    assert violation.message.startswith("Dependency graph has cyclic dependencies.")
    assert validate_root_group(tree(app("/a", "/b"), app("/b"))) == []


def test_a_group_depending_on_its_own_app_is_not_a_self_cycle() -> None:
    root = tree(app("/g/a"), app("/g/b"))
    root = root.update_group(GroupUpdate(id=p("/g"), dependencies=(p("/g/a"),)))
    assert dependency_graph(root)[p("/g/a")] == frozenset()
    assert validate_root_group(root) == []


# -- rendering ---------------------------------------------------------------------------


def test_render_group_is_group_info() -> None:
    root = tree(app("/g/b"), app("/g/a"))
    root = root.update_group(GroupUpdate(id=p("/g"), dependencies=(p("/x"),)), version=T1)
    out = render_group(root)
    assert out["id"] == "/"
    assert out["apps"] == []
    assert out["pods"] == []
    assert "version" not in out
    (g,) = out["groups"]
    assert [a["id"] for a in g["apps"]] == ["/g/a", "/g/b"]
    assert g["apps"][0] == render_app(app("/g/a"))
    assert (g["dependencies"], g["version"]) == (["/x"], "2021-07-27T14:40:33.123Z")
    assert "enforceRole" not in g
    assert render_group(root, enforce_role=True)["enforceRole"] is False


def test_render_group_embeds() -> None:
    root = tree(app("/g/a"))
    only_apps = render_group(root, embed_groups=False, embed_pods=False)
    assert set(only_apps) == {"id", "apps", "dependencies"}
    counted = render_group(
        root.group(p("/g")) or Group(ROOT), app_json=lambda a: {"id": str(a.id), "tasksRunning": 0}
    )
    assert counted["apps"] == [{"id": "/g/a", "tasksRunning": 0}]


# -- properties --------------------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove_app", "remove_group", "update", "scale"]),
        ids,
        st.integers(0, 5),
    ),
    max_size=25,
)


@given(operations)
@settings(max_examples=200)
def test_any_sequence_of_operations_keeps_the_tree_consistent(
    ops: list[tuple[str, str, int]],
) -> None:
    root = Group(ROOT)
    expected: dict[PathId, int] = {}
    for op, text, n in ops:
        path = p(text)
        try:
            if op == "add":
                root = root.with_app(app(text, instances=n))
                expected[path] = n
            elif op == "remove_app":
                root = root.without_app(path)
                del expected[path]
            elif op == "remove_group":
                root = root.without_group(path)
                expected = {k: v for k, v in expected.items() if not k.is_under(path)}
            elif op == "update":
                child = path.child(f"x{n}")
                root = root.update_group(GroupUpdate(id=path, apps=(app(str(child), instances=n),)))
                expected = {k: v for k, v in expected.items() if k.parent != path}
                expected[child] = n
            else:
                root = root.scale_by(n / 2)
                expected = {k: scaled_instances(v, n / 2) for k, v in expected.items()}
        except (MarathonValidationError, NotFound):
            continue
        assert_consistent(root)
        assert {a.id: a.instances for a in root.transitive_apps()} == expected
        # No dangling edges: the graph only names apps that exist.
        graph = dependency_graph(root)
        assert all(dep in graph for deps in graph.values() for dep in deps)
