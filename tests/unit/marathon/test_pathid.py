"""Path ids (reference 0): resolution against a base, slash tolerance, segment rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.marathon.models import ROOT, PathId, id_problems
from berth.marathon.models.pathid import segment_problem
from tests.unit.marathon.appjson import ids

PROD = PathId.parse("/prod")


@pytest.mark.parametrize(
    ("text", "base", "expected"),
    [
        ("example-app", ROOT, "/example-app"),
        ("/test-app", ROOT, "/test-app"),
        ("//test-app", ROOT, "/test-app"),  # PUT /v2/apps//test-app from the Python client
        ("a//b/", ROOT, "/a/b"),
        ("web", PROD, "/prod/web"),
        ("/web", PROD, "/web"),
        ("./web", PROD, "/prod/web"),
        ("../web", PROD, "/web"),
        ("../../../web", PROD, "/web"),  # .. stops at the root, as in Marathon
        ("a/./b/../c", ROOT, "/a/c"),
        ("", PROD, "/prod"),
        ("/", PROD, "/"),
    ],
)
def test_parse_resolves(text: str, base: PathId, expected: str) -> None:
    assert str(PathId.parse(text, base)) == expected


def test_navigation() -> None:
    web = PathId.parse("/prod/eu/web")
    assert web.parent == PathId.parse("/prod/eu")
    assert web.name == "web"
    assert ROOT.parent == ROOT
    assert ROOT.is_root
    assert ROOT.name == ""
    assert web.is_child_of(PathId.parse("/prod/eu"))
    assert not web.is_child_of(PROD)
    assert web.is_under(PROD)
    assert web.is_under(ROOT)
    assert not web.is_under(web)
    assert web.ancestors() == (PathId.parse("/prod/eu"), PROD, ROOT)
    assert PathId.parse("/prod/web") == PROD / "web"
    assert PROD.child("x") == PathId.parse("/prod/x")


def test_safe_name_for_task_ids() -> None:
    assert PathId.parse("/prod/web").safe_name == "prod_web"
    assert PathId.from_safe_name("prod_web") == PathId.parse("/prod/web")


@given(ids)
def test_safe_name_round_trips_valid_ids(text: str) -> None:
    path = PathId.parse(text)
    assert PathId.from_safe_name(path.safe_name) == path
    assert PathId.parse(str(path)) == path


@given(st.text(max_size=20), ids)
def test_parse_is_total_and_canonical(text: str, base: str) -> None:
    path = PathId.parse(text, PathId.parse(base))
    assert all(s and s not in (".", "..") and "/" not in s for s in path.segments)
    assert PathId.parse(str(path)) == path


@pytest.mark.parametrize("segment", ["a", "web-1", "a.b", "0", "x--y", "a.b-c.d"])
def test_valid_segments(segment: str) -> None:
    assert segment_problem(segment) is None


@pytest.mark.parametrize("segment", ["A", "-a", "a-", "a_b", "a..b", ".a", "a.", "a b", "é"])
def test_invalid_segments(segment: str) -> None:
    problem = segment_problem(segment)
    assert problem is not None
    assert problem.startswith("must fully match regular expression")
    assert f"'{segment}'" in problem


def test_reserved_last_segments_and_root() -> None:
    for reserved in ("restart", "tasks", "versions"):
        assert len(id_problems(PathId.parse(f"/a/{reserved}"))) == 1
        assert id_problems(PathId.parse(f"/{reserved}/a")) == []
    assert id_problems(ROOT)[0].startswith("Path must contain at least one path element")


def test_ordering_is_by_segments() -> None:
    assert sorted(map(PathId.parse, ["/b", "/a/z", "/a"])) == list(
        map(PathId.parse, ["/a", "/a/z", "/b"])
    )
