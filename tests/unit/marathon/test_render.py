"""Rendering in Marathon 1.10 form: exactly the keys the ``marathon`` Python client accepts
(reference 2.6), and the round trip ``parse(render(app)) == app``."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings

from berth.marathon.models import (
    AppDefinition,
    PathId,
    parse_app,
    render_app,
    validate_app,
)
from tests.unit.marathon.appjson import (
    JSON,
    app_bodies,
    focused_app_bodies,
    parsed,
    valid_app_bodies,
)

# Reference 2.6: what marathon 0.13.0 builds its objects from (anything else raises).
CLIENT_APP_KEYS = {
    "id",
    "args",
    "backoffFactor",
    "backoffSeconds",
    "cmd",
    "constraints",
    "container",
    "cpus",
    "dependencies",
    "deployments",
    "disk",
    "env",
    "executor",
    "gpus",
    "healthChecks",
    "role",
    "instances",
    "killSelection",
    "labels",
    "lastTaskFailure",
    "maxLaunchDelaySeconds",
    "mem",
    "ports",
    "requirePorts",
    "storeUrls",
    "tasks",
    "tasksRunning",
    "tasksStaged",
    "tasksHealthy",
    "tasksUnhealthy",
    "taskKillGracePeriodSeconds",
    "upgradeStrategy",
    "unreachableStrategy",
    "uris",
    "user",
    "version",
    "versionInfo",
    "ipAddress",
    "fetch",
    "taskStats",
    "readinessChecks",
    "readinessCheckResults",
    "secrets",
    "portDefinitions",
    "residency",
    "networks",
    "acceptedResourceRoles",
}
CLIENT_NESTED_KEYS = {
    "container": {"docker", "type", "portMappings", "volumes"},
    "portMappings": {"name", "containerPort", "hostPort", "servicePort", "protocol", "labels"},
    "volumes": {"containerPath", "hostPath", "mode", "persistent", "external"},
    "readinessChecks": {
        "name", "protocol", "path", "portName", "intervalSeconds", "httpStatusCodesForReady",
        "preserveLastResponse", "timeoutSeconds",
    },
    "portDefinitions": {"port", "protocol", "name", "labels"},
    "residency": {"relaunchEscalationTimeoutSeconds", "taskLostBehavior"},
    "upgradeStrategy": {"maximumOverCapacity", "minimumHealthCapacity"},
    "unreachableStrategy": {"inactiveAfterSeconds", "expungeAfterSeconds"},
    "versionInfo": {"lastScalingAt", "lastConfigChangeAt"},
}  # fmt: skip
OPT_IN = {"tty", "check", "executorResources", "resourceLimits"}


def client_rejects(rendered: JSON) -> list[str]:
    """Keys the Python client would choke on (as paths), emulating its constructors."""
    bad = [k for k in rendered if k not in CLIENT_APP_KEYS]
    for key, allowed in CLIENT_NESTED_KEYS.items():
        value: Any = rendered.get(key)
        container = rendered.get("container", {})
        if key in ("portMappings", "volumes"):
            value = container.get(key)
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        bad += [f"{key}.{k}" for item in items for k in item if k not in allowed]
    return bad


def uses_opt_in_fields(app: AppDefinition) -> bool:
    from berth.marathon.models import SecretVolume

    c = app.container
    return (
        any(
            getattr(app, f) is not None
            for f in ("tty", "check", "executor_resources", "resource_limits")
        )
        or (c is not None and c.linux_info is not None)
        or (c is not None and any(isinstance(v, SecretVolume) for v in c.volumes))
        or any(m.network_names for m in app.port_mappings)
    )


def test_minimal_app_renders_only_client_keys() -> None:
    rendered = render_app(AppDefinition(id=PathId.parse("/web"), cmd="serve"))
    assert client_rejects(rendered) == []
    assert set(rendered) == {
        "id", "cmd", "cpus", "mem", "disk", "gpus", "instances", "executor", "backoffSeconds",
        "backoffFactor", "maxLaunchDelaySeconds", "networks", "portDefinitions", "requirePorts",
        "labels", "role", "upgradeStrategy", "unreachableStrategy", "killSelection",
    }  # fmt: skip


def test_opt_in_fields_render_only_when_set() -> None:
    body = {
        "id": "/a",
        "cmd": "xx",
        "tty": True,
        "check": {"tcp": {"portIndex": 0}},
        "executorResources": {"cpus": 0.2},
        "resourceLimits": {"mem": 1024},
        "networks": [{"mode": "container", "name": "a"}, {"mode": "container", "name": "b"}],
        "container": {
            "type": "MESOS",
            "linuxInfo": {"seccomp": {"unconfined": True}},
            "portMappings": [{"containerPort": 80, "hostPort": 0, "networkNames": ["a"]}],
        },
    }
    rendered = render_app(parse_app(body))
    assert set(rendered) >= OPT_IN
    assert rendered["container"]["linuxInfo"] == {"seccomp": {"unconfined": True}}
    assert rendered["container"]["portMappings"][0]["networkNames"] == ["a"]
    assert rendered["check"] == {
        "tcp": {"portIndex": 0},
        "intervalSeconds": 60,
        "timeoutSeconds": 20,
        "delaySeconds": 15,
    }


def test_one_point_ten_omits_empty_collections_and_unset_optionals() -> None:
    rendered = render_app(
        parse_app({"id": "/a", "cmd": "xx", "args": [], "env": {}, "constraints": []})
    )
    for key in ("args", "env", "constraints", "dependencies", "fetch", "healthChecks",
                "readinessChecks", "secrets", "user", "acceptedResourceRoles", "residency",
                "taskKillGracePeriodSeconds", "version", "versionInfo", "container"):  # fmt: skip
        assert key not in rendered


@given(app_bodies() | focused_app_bodies())
@settings(max_examples=500)
def test_render_then_parse_is_the_identity(body: JSON) -> None:
    app = parsed(body)
    assume(app is not None)
    assert app is not None
    assert parse_app(render_app(app)) == app


@given(app_bodies())
@settings(max_examples=150)
def test_rendered_apps_are_accepted_by_the_python_client(body: JSON) -> None:
    app = parsed(body)
    assume(app is not None and not uses_opt_in_fields(app))
    assert app is not None
    assert client_rejects(render_app(app)) == []


@given(valid_app_bodies())
@settings(max_examples=300)
def test_generated_valid_apps_validate_and_round_trip(body: JSON) -> None:
    app = parse_app(body)
    assert validate_app(app) == []
    assert parse_app(render_app(app)) == app
    assert validate_app(parse_app(render_app(app))) == []
