"""``PUT``/``PATCH /v2/apps/{id}`` bodies (reference 1): partial updates replace top-level
fields whole, full updates reset omitted fields, ``{"version": ts}`` rolls back."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from berth.marathon.models import (
    AppDefinition,
    AppRollback,
    InvalidJsonError,
    MarathonError,
    MarathonValidationError,
    NetworkMode,
    PathId,
    PortDefinition,
    VersionInfo,
    classify_change,
    parse_app,
    parse_app_update,
    render_app,
)
from tests.unit.marathon.appjson import JSON, app_bodies, focused_app_bodies, json_values, parsed

T0 = datetime(2021, 1, 1, tzinfo=UTC)
STORED = parse_app(
    {
        "id": "/web",
        "cmd": "serve",
        "instances": 2,
        "env": {"A": "1", "B": "2"},
        "labels": {"team": "x"},
        "portDefinitions": [{"port": 10000, "name": "http"}],
        "healthChecks": [{"protocol": "HTTP", "portIndex": 0}],
        "version": "2021-01-01T00:00:00.000Z",
    }
)


def update(body: JSON, existing: AppDefinition | None = STORED, **kwargs: object) -> AppDefinition:
    result = parse_app_update(body, existing, partial=True, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, AppDefinition)
    return result


def test_partial_update_keeps_omitted_fields() -> None:
    new = update({"instances": 5})
    assert new.instances == 5
    assert (new.cmd, dict(new.env), new.port_definitions) == (
        "serve",
        {"A": "1", "B": "2"},
        STORED.port_definitions,
    )
    assert classify_change(STORED, new) == "scale"


def test_partial_update_replaces_maps_whole() -> None:
    new = update({"env": {"C": "3"}})
    assert dict(new.env) == {"C": "3"}
    assert dict(new.labels) == {"team": "x"}
    assert classify_change(STORED, new) == "restart"


def test_an_identical_partial_update_changes_nothing() -> None:
    echoed = render_app(STORED)
    del echoed["version"]  # with it, the body would be a (refused) rollback request
    assert classify_change(STORED, update(echoed)) == "none"
    assert classify_change(STORED, update({})) == "none"


def test_updates_carry_the_stored_version_for_the_caller_to_stamp() -> None:
    assert update({"instances": 3}).version == T0
    created = parse_app_update({"cmd": "xx"}, None, partial=True, app_id=PathId.parse("/new"))
    assert isinstance(created, AppDefinition)
    assert (str(created.id), created.version, created.version_info) == ("/new", None, None)


def test_the_url_id_wins_over_the_body_id() -> None:
    assert update({"id": "/elsewhere", "instances": 3}).id == STORED.id
    created = parse_app_update(
        {"id": "/other", "cmd": "xx"}, None, partial=True, app_id=PathId.parse("/mine")
    )
    assert isinstance(created, AppDefinition)
    assert str(created.id) == "/mine"


def test_creating_through_put_without_any_id_is_a_path_missing() -> None:
    with pytest.raises(InvalidJsonError) as e:
        parse_app_update({"cmd": "xx"}, None, partial=True)
    assert e.value.details == [{"path": "/id", "errors": ["error.path.missing"]}]


def test_full_update_resets_omitted_fields_to_defaults() -> None:
    new = parse_app_update({"cmd": "other"}, STORED, partial=False)
    assert isinstance(new, AppDefinition)
    assert (new.id, new.cmd, new.instances, dict(new.env)) == (STORED.id, "other", 1, {})


def test_legacy_fields_in_updates_are_translated_before_merging() -> None:
    new = update({"ports": [0, 0], "uris": ["http://x/a.zip"]})
    assert new.port_definitions == (PortDefinition(0), PortDefinition(0))
    assert [(f.uri, f.extract) for f in new.fetch] == [("http://x/a.zip", True)]


def test_moving_to_bridge_networking_drops_the_old_host_ports() -> None:
    new = update({"container": {"docker": {"image": "nginx", "network": "BRIDGE"}}})
    assert new.networks[0].mode is NetworkMode.BRIDGE
    assert new.port_definitions == ()
    # The default mapping, not one per old host port.
    assert [m.name for m in new.port_mappings] == ["default"]


def test_moving_back_to_host_networking_gets_the_default_port() -> None:
    bridged = update(
        {"networks": [{"mode": "container/bridge"}], "container": {"docker": {"image": "x"}}}
    )
    back = update({"networks": [{"mode": "host"}]}, existing=bridged)
    assert back.port_definitions == (PortDefinition(0, name="default"),)
    assert back.port_mappings == ()


def test_updates_contradicting_their_own_networking_are_refused() -> None:
    with pytest.raises(MarathonValidationError) as e:
        update({"networks": [{"mode": "container/bridge"}], "portDefinitions": [{"port": 0}]})
    assert e.value.details == [
        {"path": "/", "errors": ["portDefinitions are only allowed with host-networking"]}
    ]
    with pytest.raises(MarathonValidationError) as e:
        update(
            {
                "networks": [{"mode": "host"}],
                "container": {"docker": {"image": "x"}, "portMappings": [{"containerPort": 1}]},
            }
        )
    assert e.value.details == [
        {"path": "/", "errors": ["portMappings are not allowed with host-networking"]}
    ]


def test_shape_errors_in_updates_use_play_codes() -> None:
    with pytest.raises(InvalidJsonError) as e:
        update({"instances": "many"})
    assert e.value.details == [{"path": "/instances", "errors": ["error.expected.jsnumber"]}]


# -- rollback ----------------------------------------------------------------------------


def test_version_alone_is_a_rollback() -> None:
    result = parse_app_update({"version": "2021-01-01T00:00:00.000Z"}, STORED, partial=True)
    assert result == AppRollback(id=STORED.id, version=T0)
    with_id = parse_app_update(
        {"id": "/web", "version": "2021-01-01T00:00:00Z"}, None, partial=False
    )
    assert with_id == AppRollback(id=PathId.parse("/web"), version=T0)


def test_version_with_other_fields_is_refused() -> None:
    with pytest.raises(MarathonValidationError) as e:
        parse_app_update({"version": "2021-01-01T00:00:00Z", "instances": 2}, STORED, partial=True)
    assert e.value.body() == {
        "message": "Object is not valid",
        "details": [
            {
                "path": "/",
                "errors": ["The 'version' field may only be combined with the 'id' field."],
            }
        ],
    }


def test_version_with_read_only_echoes_is_still_a_rollback() -> None:
    body = {
        "version": "2021-01-01T00:00:00Z",
        "tasksRunning": 3,
        "versionInfo": {},
        "deployments": [],
    }
    assert isinstance(parse_app_update(body, STORED, partial=True), AppRollback)


def test_a_bad_rollback_version_is_a_play_error() -> None:
    with pytest.raises(InvalidJsonError):
        parse_app_update({"version": "last week"}, STORED, partial=True)


# -- properties --------------------------------------------------------------------------


@given(app_bodies() | focused_app_bodies())
@settings(max_examples=300)
def test_putting_back_the_rendered_app_changes_nothing(body: JSON) -> None:
    app = parsed(body)
    assume(app is not None)
    assert app is not None
    echoed = render_app(app)
    echoed.pop("version", None)  # clients blank it (the Python client does)
    for partial in (True, False):
        again = parse_app_update(echoed, app, partial=partial)
        assert isinstance(again, AppDefinition)
        assert classify_change(app, again) == "none"


@given(
    app_bodies(),
    st.dictionaries(
        st.sampled_from(
            [
                "instances",
                "cmd",
                "env",
                "labels",
                "container",
                "networks",
                "portDefinitions",
                "healthChecks",
            ]
        ),
        json_values,
        max_size=2,
    ),
)
@settings(max_examples=200)
def test_partial_updates_raise_only_marathon_errors(body: JSON, patch: JSON) -> None:
    app = parsed(body)
    assume(app is not None)
    with contextlib.suppress(MarathonError):
        parse_app_update(patch, app, partial=True)


@given(app_bodies(), st.integers(0, 50))
@settings(max_examples=100)
def test_scaling_through_a_partial_update_is_a_scale(body: JSON, instances: int) -> None:
    app = parsed(body)
    assume(app is not None and app.instances != instances)
    assert app is not None
    new = update({"instances": instances}, existing=app)
    assert classify_change(app, new) == "scale"


def test_version_info_survives_updates() -> None:
    info = VersionInfo(T0, T0)
    from dataclasses import replace

    stored = replace(STORED, version_info=info)
    assert update({"cmd": "new"}, existing=stored).version_info == info


def test_apps_built_in_code_can_be_updated_even_beyond_the_json_schema() -> None:
    # Upper-case port names never pass the JSON reader; an app made in code may have them.
    stored = AppDefinition(
        id=PathId.parse("/w"), cmd="xx", port_definitions=(PortDefinition(0, name="HTTP"),)
    )
    new = update({"instances": 2}, existing=stored)
    assert new.port_definitions == stored.port_definitions
    assert classify_change(stored, new) == "scale"
