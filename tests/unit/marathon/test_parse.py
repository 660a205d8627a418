"""Parsing app bodies (reference 2.1-2.3): the worked example, every legacy form, every
Play code, and the fuzz property that bad input only ever raises the module's errors."""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.marathon.models import (
    DEFAULT_PORT_DEFINITION,
    UNREACHABLE_DISABLED,
    EngineType,
    EnvSecretRef,
    HealthCheckProtocol,
    InvalidJsonError,
    MarathonError,
    MarathonValidationError,
    Network,
    NetworkMode,
    PathId,
    PersistentVolume,
    PortDefinition,
    PortMapping,
    PortProtocol,
    Residency,
    UpgradeStrategy,
    parse_app,
    parse_group_update,
    render_app,
    validate_app,
)
from tests.unit.marathon.appjson import JSON, app_bodies, json_values

# Reference 2.3: the request and (minus runtime counts) the 1.10 answer.
EXAMPLE_REQUEST: JSON = {
    "id": "example-app",
    "cmd": "python3 -m http.server 8080",
    "cpus": 0.5,
    "mem": 128,
    "instances": 2,
    "container": {
        "type": "DOCKER",
        "docker": {
            "image": "python:3",
            "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 0}],
        },
    },
}
EXAMPLE_ANSWER: JSON = {
    "id": "/example-app",
    "cmd": "python3 -m http.server 8080",
    "cpus": 0.5,
    "mem": 128,
    "disk": 0,
    "gpus": 0,
    "instances": 2,
    "executor": "",
    "backoffSeconds": 1,
    "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 300,
    "container": {
        "type": "DOCKER",
        "docker": {
            "image": "python:3",
            "forcePullImage": False,
            "privileged": False,
            "parameters": [],
        },
        "volumes": [],
        # 0 until the deployment assigns it (the POST 201 body shows 0; GET 10000).
        "portMappings": [
            {
                "containerPort": 8080,
                "hostPort": 0,
                "servicePort": 0,
                "protocol": "tcp",
                "labels": {},
            }
        ],
    },
    "networks": [{"mode": "container/bridge"}],
    "requirePorts": False,
    "labels": {},
    "role": "*",
    "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
    "killSelection": "YOUNGEST_FIRST",
}


def play_errors(body: object, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidJsonError) as e:
        parse_app(body, **kwargs)
    assert e.value.status == 422
    return {d["path"]: d["errors"] for d in e.value.body()["details"]}


def object_errors(body: object) -> dict[str, list[str]]:
    with pytest.raises(MarathonValidationError) as e:
        parse_app(body)
    assert e.value.body()["message"] == "Object is not valid"
    return {d["path"]: d["errors"] for d in e.value.body()["details"]}


def app_json(**fields: Any) -> JSON:
    return {"id": "/web", "cmd": "serve", **fields}


# -- the worked example ------------------------------------------------------------------


def test_reference_example_normalizes_and_renders_as_documented() -> None:
    app = parse_app(EXAMPLE_REQUEST)
    assert render_app(app) == EXAMPLE_ANSWER
    assert validate_app(app) == []
    # Exact text, not just equal values: whole numbers print without ".0".
    assert '"mem": 128,' in str(render_app(app)).replace("'", '"')


def test_reference_example_with_assigned_service_port_matches_the_get_answer() -> None:
    from dataclasses import replace

    app = parse_app(EXAMPLE_REQUEST)
    assert app.container is not None
    mapping = replace(app.container.port_mappings[0], service_port=10000)
    app = replace(app, container=replace(app.container, port_mappings=(mapping,)))
    assert render_app(app)["container"]["portMappings"][0]["servicePort"] == 10000


def test_minimal_app_gets_marathon_defaults() -> None:
    app = parse_app({"id": "web", "cmd": "sleep 100"})
    assert app.id == PathId(("web",))
    assert (app.cpus, app.mem, app.disk, app.gpus, app.instances) == (1.0, 128.0, 0.0, 0, 1)
    assert (app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds) == (1, 1.15, 300)
    assert app.networks == (Network(mode=NetworkMode.HOST),)
    # Host networking, no ports given: one dynamic port named "default".
    assert app.port_definitions == (DEFAULT_PORT_DEFINITION,)
    assert render_app(app)["portDefinitions"] == [{"port": 0, "protocol": "tcp", "name": "default"}]
    assert app.upgrade_strategy == UpgradeStrategy(1.0, 1.0)
    assert app.role == "*"
    assert app.executor == ""


def test_empty_port_definitions_mean_no_ports() -> None:
    assert parse_app(app_json(portDefinitions=[])).port_definitions == ()


def test_relative_ids_and_dependencies_resolve_against_the_base() -> None:
    base = PathId.parse("/prod")
    app = parse_app(
        {"id": "web", "cmd": "xx", "dependencies": ["db", "../shared/cache", "/abs"]}, base=base
    )
    assert str(app.id) == "/prod/web"
    assert [str(d) for d in app.dependencies] == ["/prod/db", "/shared/cache", "/abs"]


def test_ids_tolerate_extra_slashes_and_dots() -> None:
    assert str(parse_app({"id": "//a//./b/", "cmd": "xx"}).id) == "/a/b"


def test_read_only_echo_fields_are_ignored() -> None:
    echoed = {
        **app_json(),
        "tasksRunning": 2,
        "tasksStaged": 0,
        "tasks": [{"id": "x"}],
        "deployments": [{"id": "d"}],
        "lastTaskFailure": {"appId": "/web"},
        "taskStats": {},
        "readinessCheckResults": [],
        "somethingNew": {"x": 1},
    }
    assert parse_app(echoed) == parse_app(app_json())


def test_version_and_version_info_are_kept_as_metadata() -> None:
    app = parse_app(
        app_json(
            version="2021-07-27T14:40:33.123Z",
            versionInfo={
                "lastScalingAt": "2021-07-27T14:40:33.123Z",
                "lastConfigChangeAt": "2021-01-01T00:00:00Z",
            },
        )
    )
    assert app.version == datetime(2021, 7, 27, 14, 40, 33, 123000, tzinfo=UTC)
    assert app.version_info is not None
    assert app.version_info.last_config_change_at == datetime(2021, 1, 1, tzinfo=UTC)


def test_malformed_version_info_is_ignored_not_an_error() -> None:
    assert parse_app(app_json(versionInfo={"lastScalingAt": 3})).version_info is None


# -- enums, numbers ----------------------------------------------------------------------


def test_enums_are_case_insensitive() -> None:
    app = parse_app(
        app_json(
            killSelection="oldest_first",
            container={"type": "docker", "docker": {"image": "nginx"}},
            healthChecks=[{"protocol": "mesos_http"}],
            portDefinitions=[{"protocol": "UDP"}],
        )
    )
    assert str(app.kill_selection) == "OLDEST_FIRST"
    assert app.container is not None
    assert app.container.type is EngineType.DOCKER
    assert app.health_checks[0].protocol is HealthCheckProtocol.MESOS_HTTP
    assert app.port_definitions[0].protocol is PortProtocol.UDP


def test_integral_floats_count_as_integers() -> None:
    assert parse_app(app_json(instances=2.0)).instances == 2


# -- legacy forms (reference 2.3) --------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ("BRIDGE", (Network(mode=NetworkMode.BRIDGE),)),
        ("HOST", (Network(mode=NetworkMode.HOST),)),
        ("USER", (Network(mode=NetworkMode.CONTAINER),)),
    ],
)
def test_docker_network_becomes_networks(network: str, expected: tuple[Network, ...]) -> None:
    app = parse_app(app_json(container={"docker": {"image": "nginx", "network": network}}))
    assert app.networks == expected
    container = render_app(app)["container"]
    assert "network" not in container["docker"]


def test_docker_user_network_takes_the_ip_address_network_name() -> None:
    app = parse_app(
        app_json(
            container={"docker": {"image": "nginx", "network": "USER"}},
            ipAddress={"networkName": "dcos", "labels": {"a": "b"}},
        )
    )
    assert app.networks == (Network(mode=NetworkMode.CONTAINER, name="dcos", labels={"a": "b"}),)  # type: ignore[arg-type]


def test_docker_network_none_is_refused() -> None:
    errors = object_errors(app_json(container={"docker": {"image": "x", "network": "NONE"}}))
    assert list(errors) == ["/container/docker/network"]
    assert "NONE" in errors["/container/docker/network"][0]


def test_docker_network_with_networks_is_refused() -> None:
    errors = object_errors(
        app_json(
            container={"docker": {"image": "x", "network": "BRIDGE"}},
            networks=[{"mode": "container/bridge"}],
        )
    )
    assert errors == {"/": ["must not specify both container.docker.network and networks"]}


def test_docker_port_mappings_move_to_the_container() -> None:
    app = parse_app(
        app_json(
            container={
                "docker": {
                    "image": "x",
                    "network": "BRIDGE",
                    "portMappings": [{"containerPort": 80}],
                }
            }
        )
    )
    # Bridge: the mapping without hostPort gets hostPort 0 (a dynamic port).
    assert app.port_mappings == (PortMapping(container_port=80, host_port=0),)
    rendered = render_app(app)["container"]
    assert "portMappings" not in rendered["docker"]
    assert rendered["portMappings"][0]["hostPort"] == 0


def test_both_port_mapping_places_are_refused() -> None:
    errors = object_errors(
        app_json(
            networks=[{"mode": "container/bridge"}],
            container={
                "docker": {"image": "x", "portMappings": [{"containerPort": 80}]},
                "portMappings": [{"containerPort": 81}],
            },
        )
    )
    assert list(errors) == ["/container"]


def test_container_networks_leave_host_ports_unset() -> None:
    app = parse_app(
        app_json(
            networks=[{"mode": "container", "name": "dcos"}],
            container={"docker": {"image": "x"}, "portMappings": [{"containerPort": 80}]},
        )
    )
    assert app.port_mappings[0].host_port is None


def test_non_host_networking_drops_port_definitions_and_require_ports() -> None:
    app = parse_app(
        app_json(
            networks=[{"mode": "container/bridge"}],
            container={"docker": {"image": "x"}, "portMappings": [{"containerPort": 80}]},
            portDefinitions=[{"port": 0}],
            requirePorts=True,
        )
    )
    assert app.port_definitions == ()
    assert app.require_ports is False
    assert "portDefinitions" not in render_app(app)


def test_non_host_networking_without_mappings_gets_the_default_mapping() -> None:
    app = parse_app(app_json(networks=[{"mode": "container/bridge"}]))
    # No container given: an empty MESOS one carries the mapping.
    assert app.container is not None
    assert app.container.type is EngineType.MESOS
    assert app.port_mappings == (PortMapping(host_port=0, name="default"),)


def test_more_legacy_ports_than_mappings_appends_default_mappings() -> None:
    app = parse_app(
        app_json(
            networks=[{"mode": "container/bridge"}],
            container={"docker": {"image": "x"}, "portMappings": [{"containerPort": 80}]},
            ports=[0, 0, 0],
        )
    )
    assert [m.container_port for m in app.port_mappings] == [80, 0, 0]


def test_host_networking_drops_port_mappings() -> None:
    app = parse_app(
        app_json(container={"docker": {"image": "x"}, "portMappings": [{"containerPort": 80}]})
    )
    assert app.port_mappings == ()
    assert "portMappings" not in render_app(app)["container"]


def test_ports_become_port_definitions() -> None:
    app = parse_app(app_json(ports=[8080, 0]))
    assert app.port_definitions == (PortDefinition(8080), PortDefinition(0))
    assert "ports" not in render_app(app)


def test_ports_equal_to_port_definitions_may_coexist() -> None:
    app = parse_app(app_json(ports=[80], portDefinitions=[{"port": 80, "name": "http"}]))
    assert app.port_definitions == (PortDefinition(80, name="http"),)


def test_ports_differing_from_port_definitions_are_refused() -> None:
    assert list(object_errors(app_json(ports=[80], portDefinitions=[{"port": 81}]))) == ["/"]


@pytest.mark.parametrize(
    ("uri", "extract"),
    [
        ("http://x/a.tgz", True),
        ("http://x/a.tar.gz", True),
        ("http://x/a.TBZ2", True),
        ("http://x/a.tar.bz2", True),
        ("http://x/a.txz", True),
        ("http://x/a.tar.xz", True),
        ("http://x/a.zip", True),
        ("http://x/a.jar", False),
        ("http://x/tgz", False),
    ],
)
def test_uris_become_fetch_with_extract_for_archives(uri: str, extract: bool) -> None:
    (fetched,) = parse_app(app_json(uris=[uri])).fetch
    assert (fetched.uri, fetched.extract, fetched.executable, fetched.cache) == (
        uri,
        extract,
        False,
        False,
    )
    assert "uris" not in render_app(parse_app(app_json(uris=[uri])))


def test_uris_with_fetch_are_refused() -> None:
    errors = object_errors(app_json(uris=["http://a"], fetch=[{"uri": "http://b"}]))
    assert errors == {"/uris": ["may not be set in conjunction with fetch"]}


def test_ip_address_becomes_a_container_network_and_mesos_container() -> None:
    app = parse_app(
        app_json(
            portDefinitions=[],
            ipAddress={
                "networkName": "dcos",
                "discovery": {"ports": [{"number": 8080, "name": "http", "protocol": "tcp"}]},
            },
        )
    )
    assert app.networks == (Network(mode=NetworkMode.CONTAINER, name="dcos"),)
    assert app.container is not None
    assert app.container.type is EngineType.MESOS
    assert app.port_mappings == (PortMapping(container_port=8080, name="http"),)
    assert "ipAddress" not in render_app(app)


def test_ip_address_on_the_mesos_bridge_name_means_bridge() -> None:
    app = parse_app(app_json(ipAddress={"networkName": "mesos-bridge"}))
    assert app.networks == (Network(mode=NetworkMode.BRIDGE),)


def test_ip_address_conflicts() -> None:
    errors = object_errors(
        app_json(ipAddress={"networkName": "a"}, ports=[80], networks=[{"mode": "host"}])
    )
    assert errors["/"] == [
        "cannot specify both an IP address and port",
        "must not specify both networks and ipAddress",
    ]
    errors = object_errors(
        app_json(
            container={"docker": {"image": "x"}},
            ipAddress={"discovery": {"ports": [{"name": "http"}]}},
        )
    )
    assert errors == {"/ipAddress": ["ipAddress/discovery is not allowed for Docker containers"]}


def test_legacy_docker_credential_is_refused() -> None:
    errors = object_errors(
        app_json(container={"docker": {"image": "x", "credential": {"principal": "p"}}})
    )
    assert list(errors) == ["/container/docker/credential"]


def test_health_checks_get_port_index_zero_when_the_app_has_ports() -> None:
    app = parse_app(app_json(healthChecks=[{"protocol": "TCP"}, {"protocol": "HTTP", "port": 80}]))
    assert [(h.port_index, h.port) for h in app.health_checks] == [(0, None), (None, 80)]
    app = parse_app(app_json(portDefinitions=[], healthChecks=[{"protocol": "TCP"}]))
    assert app.health_checks[0].port_index is None


def test_command_health_checks_keep_no_port_and_take_the_command() -> None:
    app = parse_app(app_json(healthChecks=[{"command": {"value": "true"}, "portIndex": 0}]))
    (check,) = app.health_checks
    assert (check.protocol, check.command, check.port_index, check.path) == (
        HealthCheckProtocol.COMMAND,
        "true",
        None,
        None,
    )
    assert render_app(app)["healthChecks"][0]["command"] == {"value": "true"}


def test_health_check_defaults() -> None:
    (check,) = parse_app(app_json(healthChecks=[{}])).health_checks
    assert check.protocol is HealthCheckProtocol.HTTP
    assert (check.path, check.grace_period_seconds, check.interval_seconds) == ("/", 300, 60)
    assert (check.timeout_seconds, check.max_consecutive_failures, check.delay_seconds) == (
        20,
        3,
        15,
    )


def test_readiness_checks_get_default_status_codes() -> None:
    app = parse_app(
        app_json(
            portDefinitions=[{"name": "http-api"}],
            readinessChecks=[{"httpStatusCodesForReady": []}],
        )
    )
    (check,) = app.readiness_checks
    assert check.http_status_codes_for_ready == (200,)
    assert (
        check.name,
        check.path,
        check.port_name,
        check.interval_seconds,
        check.timeout_seconds,
    ) == (
        "readinessCheck",
        "/",
        "http-api",
        30,
        10,
    )


def test_persistent_volumes_imply_residency_and_resident_strategies() -> None:
    app = parse_app(
        app_json(
            container={
                "type": "MESOS",
                "volumes": [{"containerPath": "data", "mode": "RW", "persistent": {"size": 10}}],
            }
        )
    )
    assert app.container is not None
    assert isinstance(app.container.volumes[0], PersistentVolume)
    assert app.residency == Residency()
    assert app.unreachable_strategy is UNREACHABLE_DISABLED
    assert app.upgrade_strategy == UpgradeStrategy(0.5, 0.0)
    assert render_app(app)["unreachableStrategy"] == "disabled"
    assert validate_app(app) == []


def test_single_instance_apps_default_to_a_stop_then_start_upgrade() -> None:
    app = parse_app(app_json(labels={"MARATHON_SINGLE_INSTANCE_APP": "true"}))
    assert app.upgrade_strategy == UpgradeStrategy(0.0, 0.0)
    assert validate_app(app) == []


def test_upgrade_strategy_with_one_key_takes_one_for_the_other() -> None:
    app = parse_app(app_json(upgradeStrategy={"minimumHealthCapacity": 0.5}))
    assert app.upgrade_strategy == UpgradeStrategy(0.5, 1.0)


def test_env_takes_strings_and_secret_references() -> None:
    app = parse_app(
        app_json(env={"A": "1", "B": {"secret": "db"}}, secrets={"db": {"source": "x"}})
    )
    assert dict(app.env) == {"A": "1", "B": EnvSecretRef("db")}
    assert render_app(app)["env"] == {"A": "1", "B": {"secret": "db"}}


def test_constraint_operators_are_upper_cased_when_known() -> None:
    app = parse_app(app_json(constraints=[["hostname", "unique"], ["rack", "Like", "r[1-3]"]]))
    assert [(c.operator, c.value) for c in app.constraints] == [
        ("UNIQUE", None),
        ("LIKE", "r[1-3]"),
    ]


def test_constraints_need_two_or_three_fields() -> None:
    errors = object_errors(app_json(constraints=[["hostname"], ["a", "b", "c", "d"]]))
    assert list(errors) == ["/constraints(0)", "/constraints(1)"]
    assert errors["/constraints(0)"][0].startswith("Each constraint must have either 2 or 3 fields")


def test_unreachable_strategy_forms() -> None:
    assert (
        parse_app(app_json(unreachableStrategy="disabled")).unreachable_strategy
        is UNREACHABLE_DISABLED
    )
    assert play_errors(app_json(unreachableStrategy="sometimes")) == {
        "/unreachableStrategy": ["error.unknown.enum.literal"]
    }


def test_resource_limits_accept_unlimited() -> None:
    app = parse_app(app_json(resourceLimits={"cpus": "unlimited", "mem": 512}))
    assert app.resource_limits is not None
    assert math.isinf(app.resource_limits.cpus or 0)
    assert render_app(app)["resourceLimits"] == {"cpus": "unlimited", "mem": 512}


def test_default_network_name_fills_unnamed_container_networks() -> None:
    body = app_json(networks=[{"mode": "container"}])
    assert parse_app(body).networks[0].name is None
    assert parse_app(body, default_network_name="dcos").networks[0].name == "dcos"


def test_default_role_is_configurable() -> None:
    assert parse_app(app_json(), default_role="marathon").role == "marathon"
    assert parse_app(app_json(role="dev"), default_role="marathon").role == "dev"


# -- Play codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path", "code"),
    [
        ({"cpus": "1"}, "/cpus", "error.expected.jsnumber"),
        ({"cpus": True}, "/cpus", "error.expected.jsnumber"),
        ({"cpus": 0}, "/cpus", "error.min"),
        ({"mem": -1}, "/mem", "error.min"),
        ({"disk": -0.5}, "/disk", "error.min"),
        ({"instances": -1}, "/instances", "error.min"),
        ({"instances": 1.5}, "/instances", "error.expected.int"),
        ({"instances": 2**40}, "/instances", "error.expected.int"),
        ({"backoffFactor": 0.5}, "/backoffFactor", "error.min"),
        ({"cmd": 5}, "/cmd", "error.expected.jsstring"),
        ({"cmd": ""}, "/cmd", "error.minLength"),
        ({"requirePorts": "yes"}, "/requirePorts", "error.expected.jsboolean"),
        ({"args": "a b"}, "/args", "error.expected.jsarray"),
        ({"args": ["a", 1]}, "/args(1)", "error.expected.jsstring"),
        ({"labels": []}, "/labels", "error.expected.jsobject"),
        ({"labels": {"a": 1}}, "/labels/a", "error.expected.jsstring"),
        ({"env": {"A": 1}}, "/env/A", "error.expected.jsstring"),
        ({"env": {"A": {"nope": 1}}}, "/env/A/secret", "error.path.missing"),
        ({"killSelection": "RANDOM"}, "/killSelection", "error.unknown.enum.literal"),
        ({"executor": "a//b"}, "/executor", "error.pattern"),
        (
            {"upgradeStrategy": {"minimumHealthCapacity": 1.5}},
            "/upgradeStrategy/minimumHealthCapacity",
            "error.max",
        ),
        (
            {"upgradeStrategy": {"maximumOverCapacity": -1}},
            "/upgradeStrategy/maximumOverCapacity",
            "error.min",
        ),
        ({"container": {"docker": {}}}, "/container/docker/image", "error.path.missing"),
        ({"container": {"docker": {"image": ""}}}, "/container/docker/image", "error.minLength"),
        ({"container": {"type": "RKT"}}, "/container/type", "error.unknown.enum.literal"),
        (
            {"container": {"volumes": [{"containerPath": "/a"}]}},
            "/container/volumes(0)/hostPath",
            "error.path.missing",
        ),
        ({"portDefinitions": [{"port": 70000}]}, "/portDefinitions(0)/port", "error.max"),
        ({"portDefinitions": [{"name": "HTTP"}]}, "/portDefinitions(0)/name", "error.pattern"),
        (
            {"portDefinitions": [{"protocol": "sctp"}]},
            "/portDefinitions(0)/protocol",
            "error.unknown.enum.literal",
        ),
        (
            {"healthChecks": [{"protocol": "SMTP"}]},
            "/healthChecks(0)/protocol",
            "error.unknown.enum.literal",
        ),
        ({"healthChecks": [{"portIndex": -1}]}, "/healthChecks(0)/portIndex", "error.min"),
        ({"healthChecks": [None]}, "/healthChecks(0)", "error.expected.jsobject"),
        ({"networks": [{"mode": "bridge"}]}, "/networks(0)/mode", "error.unknown.enum.literal"),
        ({"constraints": [["a", 1]]}, "/constraints(0)(1)", "error.expected.jsstring"),
        ({"constraints": ["hostname:UNIQUE"]}, "/constraints(0)", "error.expected.jsarray"),
        ({"fetch": [{"extract": True}]}, "/fetch(0)/uri", "error.path.missing"),
        ({"version": "yesterday"}, "/version", "error.expected.date.isoformat"),
        ({"secrets": {"s": {}}}, "/secrets/s/source", "error.path.missing"),
        (
            {"readinessChecks": [{"intervalSeconds": 0}]},
            "/readinessChecks(0)/intervalSeconds",
            "error.min",
        ),
        (
            {"residency": {"taskLostBehavior": "PANIC"}},
            "/residency/taskLostBehavior",
            "error.unknown.enum.literal",
        ),
        (
            {"ipAddress": {"discovery": {"ports": [{"number": 80}]}}},
            "/ipAddress/discovery/ports(0)/name",
            "error.path.missing",
        ),
        ({"dependencies": [None]}, "/dependencies(0)", "error.expected.jsstring"),
        ({"taskKillGracePeriodSeconds": -5}, "/taskKillGracePeriodSeconds", "error.min"),
    ],
)
def test_play_codes(fields: JSON, path: str, code: str) -> None:
    assert play_errors(app_json(**fields)) == {path: [code]}


def test_missing_id_is_path_missing_and_null_id_a_type_error() -> None:
    assert play_errors({"cmd": "xx"}) == {"/id": ["error.path.missing"]}
    assert play_errors({"id": None, "cmd": "xx"}) == {"/id": ["error.expected.jsstring"]}


def test_a_body_that_is_not_an_object() -> None:
    assert play_errors([{"id": "a"}]) == {"/": ["error.expected.jsobject"]}


def test_null_means_absent_for_optional_fields() -> None:
    assert parse_app(app_json(cpus=None, env=None, container=None)) == parse_app(app_json())


def test_every_shape_problem_is_reported_at_once() -> None:
    errors = play_errors(
        {
            "cmd": 1,
            "cpus": "x",
            "mem": -1,
            "container": {"docker": {"image": 3}},
            "healthChecks": [{"protocol": "X"}],
        }
    )
    assert errors == {
        "/id": ["error.path.missing"],
        "/cmd": ["error.expected.jsstring"],
        "/cpus": ["error.expected.jsnumber"],
        "/mem": ["error.min"],
        "/healthChecks(0)/protocol": ["error.unknown.enum.literal"],
        "/container/docker/image": ["error.expected.jsstring"],
    }


def test_shape_errors_come_before_legacy_conflicts() -> None:
    # Marathon reads the JSON first: a type error hides the uris/fetch conflict.
    errors = play_errors(app_json(cpus="1", uris=["http://a"], fetch=[{"uri": "http://b"}]))
    assert list(errors) == ["/cpus"]


# -- properties --------------------------------------------------------------------------


@given(app_bodies())
@settings(max_examples=300)
def test_parsing_generated_bodies_raises_only_marathon_errors(body: JSON) -> None:
    try:
        app = parse_app(body)
    except MarathonValidationError:
        return
    render_app(app)
    validate_app(app)


@given(
    app_bodies(),
    st.dictionaries(
        st.sampled_from(
            [
                *sorted(EXAMPLE_ANSWER),
                "container",
                "healthChecks",
                "portDefinitions",
                "networks",
                "constraints",
                "env",
                "ipAddress",
                "ports",
                "uris",
                "check",
            ]
        ),
        json_values,
        max_size=3,
    ),
)
@settings(max_examples=300)
def test_parse_never_raises_anything_but_its_own_errors_on_corrupted_bodies(
    body: JSON, corruption: JSON
) -> None:
    body.update(corruption)
    try:
        app = parse_app(body)
    except MarathonError:
        return
    validate_app(app)
    render_app(app)


@given(json_values)
def test_parse_never_raises_anything_but_its_own_errors_on_arbitrary_json(value: object) -> None:
    for parse in (parse_app, parse_group_update):
        with contextlib.suppress(MarathonError):
            parse(value)


@given(
    app_bodies(), st.sampled_from(["container", "ipAddress", "check", "healthChecks"]), st.data()
)
def test_parse_never_crashes_on_corrupted_nested_objects(
    body: JSON, key: str, data: st.DataObject
) -> None:
    nested = body.get(key)
    if isinstance(nested, dict) and nested:
        nested[data.draw(st.sampled_from(sorted(nested)))] = data.draw(json_values)
    elif isinstance(nested, list) and nested and isinstance(nested[0], dict) and nested[0]:
        nested[0][data.draw(st.sampled_from(sorted(nested[0])))] = data.draw(json_values)
    with contextlib.suppress(MarathonError):
        validate_app(parse_app(body))
