"""Change classification (reference 3.1): instances alone is a scale, anything runtime-
relevant a restart, an identical definition nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from berth.marathon.models import (
    AppDefinition,
    FrozenMap,
    KillSelection,
    PathId,
    UpgradeStrategy,
    VersionInfo,
    classify_change,
    parse_app,
)
from tests.unit.marathon.appjson import JSON, app_bodies, parsed

BASE = AppDefinition(id=PathId.parse("/web"), cmd="serve", instances=2)
NOW = datetime(2021, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"cmd": "serve --fast"},
        {"args": ("a",)},
        {"user": "nobody"},
        {"env": FrozenMap({"A": "1"})},
        {"cpus": 2.0},
        {"mem": 64.0},
        {"labels": FrozenMap({"x": "y"})},
        {"kill_selection": KillSelection.OLDEST_FIRST},
        {"upgrade_strategy": UpgradeStrategy(0.5, 0.5)},
        {"backoff_seconds": 5},
        {"role": "dev"},
        {"port_definitions": ()},
    ],
)
def test_runtime_relevant_changes_restart(change: dict[str, object]) -> None:
    assert classify_change(BASE, replace(BASE, **change)) == "restart"  # type: ignore[arg-type]
    assert classify_change(BASE, replace(BASE, instances=9, **change)) == "restart"  # type: ignore[arg-type]


def test_version_metadata_is_not_a_change() -> None:
    stamped = replace(BASE, version=NOW, version_info=VersionInfo(NOW, NOW))
    assert classify_change(BASE, stamped) == "none"


@given(app_bodies(), st.integers(0, 100))
@settings(max_examples=100)
def test_changing_only_instances_is_a_scale(body: JSON, instances: int) -> None:
    app = parsed(body)
    assume(app is not None and app.instances != instances)
    assert app is not None
    assert classify_change(app, replace(app, instances=instances)) == "scale"


@given(app_bodies())
@settings(max_examples=100)
def test_identical_definitions_are_no_change(body: JSON) -> None:
    app = parsed(body)
    assume(app is not None)
    assert app is not None
    assert classify_change(app, app) == "none"
    # Parsing the same body twice gives an equal (not identical) definition.
    assert classify_change(app, parse_app(body)) == "none"


@given(app_bodies(), app_bodies())
@settings(max_examples=100)
def test_classification_is_symmetric(a_body: JSON, b_body: JSON) -> None:
    a, b = parsed(a_body), parsed(b_body)
    assume(a is not None and b is not None)
    assert a is not None
    assert b is not None
    assert classify_change(a, b) == classify_change(b, a)
