"""Version stamping by kind of change (reference 3.1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from berth.marathon.models.group import Group
from berth.marathon.models.parse import parse_app
from berth.marathon.models.pathid import ROOT, PathId
from berth.marathon.orchestrator import stamp_versions

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)
WEB = PathId.parse("/web")


def root_with_web() -> Group:
    app = parse_app({"id": "/web", "cmd": "serve", "instances": 1})
    stamped, _ = stamp_versions(Group(ROOT), Group(ROOT).with_app(app), T0)
    return stamped


def test_new_app_gets_now_everywhere() -> None:
    root = root_with_web()
    app = root.app(WEB)
    assert app is not None
    assert app.version == T0
    assert app.version_info is not None
    assert app.version_info.last_scaling_at == app.version_info.last_config_change_at == T0


def test_untouched_apps_keep_their_version_and_are_not_reported() -> None:
    root = root_with_web()
    same, changed = stamp_versions(root, root, T1)
    assert changed == []
    assert same.app(WEB) == root.app(WEB)


def test_restart_of_an_unchanged_app_moves_version_and_config_change() -> None:
    root = root_with_web()
    restarted, changed = stamp_versions(root, root, T1, restart=[WEB])
    app = restarted.app(WEB)
    assert [a.id for a in changed] == [WEB]
    assert app is not None
    assert app.version == T1
    assert app.version_info is not None
    assert app.version_info.last_config_change_at == T1


def test_scale_moves_version_and_scaling_time_only() -> None:
    root = root_with_web()
    before = root.app(WEB)
    assert before is not None
    scaled, _ = stamp_versions(root, root.with_app(replace(before, instances=3)), T1)
    app = scaled.app(WEB)
    assert app is not None
    assert app.version == T1
    assert app.version_info is not None
    assert app.version_info.last_scaling_at == T1
    assert app.version_info.last_config_change_at == T0


def test_config_change_moves_all_three() -> None:
    root = root_with_web()
    before = root.app(WEB)
    assert before is not None
    changed_root, _ = stamp_versions(root, root.with_app(replace(before, cmd="serve v2")), T1)
    app = changed_root.app(WEB)
    assert app is not None
    assert app.version_info is not None
    assert (
        app.version,
        app.version_info.last_scaling_at,
        app.version_info.last_config_change_at,
    ) == (T1, T1, T1)
