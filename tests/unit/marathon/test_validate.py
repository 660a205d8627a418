"""Semantic validation (reference 2.1-2.3, 3.5, 3.6): each rule with its path and message,
every violation reported at once, and no false alarms on the apps people deploy."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from berth.marathon.models import (
    AppDefinition,
    Constraint,
    Container,
    DockerSpec,
    EngineType,
    MarathonValidationError,
    Network,
    NetworkMode,
    PathId,
    PortDefinition,
    UnreachableEnabled,
    UpgradeStrategy,
    Violation,
    constraint_problem,
    ensure_valid_app,
    parse_app,
    validate_app,
)
from tests.unit.marathon.appjson import JSON

PORT_INDEX = (
    "Health check port indices must address an element of the ports array or container "
    "port mappings."
)
CMD_ARGS = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
NETWORK_COUNTS = (
    "May specify a single host network, single bridge network, or else 1-to-n container networks"
)
OPERATOR = (
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
)


def problems(body: JSON, **kwargs: Any) -> dict[str, list[str]]:
    """Violations of ``body`` (an app with id and cmd unless overridden), by path."""
    app = parse_app({"id": "/web", "cmd": "serve", **body})
    out: dict[str, list[str]] = {}
    for v in validate_app(app, **kwargs):
        out.setdefault(v.path, []).append(v.message)
    return out


def only(body: JSON, path: str, **kwargs: Any) -> list[str]:
    found = problems(body, **kwargs)
    assert list(found) == [path], found
    return found[path]


BRIDGE = {"networks": [{"mode": "container/bridge"}]}
DOCKER = {"type": "DOCKER", "docker": {"image": "nginx"}}


def test_a_plain_app_is_valid() -> None:
    assert problems({}) == {}


# -- command -----------------------------------------------------------------------------


def test_cmd_with_args_is_refused_at_the_root() -> None:
    assert only({"args": ["x"]}, "/") == [CMD_ARGS]


def test_neither_cmd_nor_args_needs_a_container_with_an_image() -> None:
    app = parse_app({"id": "/web"})
    assert validate_app(app) == [Violation("/", CMD_ARGS)]
    assert validate_app(parse_app({"id": "/web", "container": DOCKER})) == []
    # A MESOS container without an image has no entrypoint to run.
    assert validate_app(parse_app({"id": "/web", "container": {"type": "MESOS"}})) == [
        Violation("/", CMD_ARGS)
    ]


def test_args_alone_are_fine() -> None:
    assert validate_app(parse_app({"id": "/web", "args": ["sleep", "10"]})) == []


def test_one_character_cmd_is_refused() -> None:
    assert only({"cmd": "x"}, "/cmd")[0].startswith("must not be an empty string")


# -- resources ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("cpus", 0.0, "/cpus", "got 0.0, expected 0.001 or more"),
        ("mem", -1.0, "/mem", "got -1.0, expected 0.0 or more"),
        ("disk", -1.0, "/disk", "got -1.0, expected 0.0 or more"),
        ("instances", -1, "/instances", "got -1, expected 0 or more"),
        ("gpus", -1, "/gpus", "got -1, expected 0 or more"),
        ("backoff_factor", 0.5, "/backoffFactor", "got 0.5, expected 1.0 or more"),
        ("backoff_seconds", -1, "/backoffSeconds", "got -1, expected 0 or more"),
        ("max_launch_delay_seconds", -1, "/maxLaunchDelaySeconds", "got -1, expected 0 or more"),
        (
            "task_kill_grace_period_seconds",
            -1,
            "/taskKillGracePeriodSeconds",
            "got -1, expected 0 or more",
        ),
    ],
)
def test_bounds_hold_for_apps_built_in_code(
    field: str, value: float, path: str, message: str
) -> None:
    changes: dict[str, Any] = {field: value}
    app = replace(AppDefinition(id=PathId.parse("/web"), cmd="serve"), **changes)
    assert validate_app(app) == [Violation(path, message)]


def test_gpus_need_the_feature_and_the_mesos_containerizer() -> None:
    found = only({"gpus": 1, "container": DOCKER}, "/gpus")
    assert found == [
        "GPU resources only work with the Mesos containerizer: use container type MESOS",
        "Feature gpu_resources is not enabled. Enable with --enable_features gpu_resources",
    ]
    assert problems({"gpus": 1}, features={"gpu_resources"}) == {}


def test_executor_must_be_empty_cmd_or_a_path() -> None:
    app = replace(AppDefinition(id=PathId.parse("/web"), cmd="serve"), executor="a//b")
    assert [v.path for v in validate_app(app)] == ["/executor"]
    for ok in ("", "//cmd", "/opt/executor", "custom"):
        assert validate_app(replace(app, executor=ok)) == []


def test_resource_limits_may_not_be_below_the_request() -> None:
    assert only({"cpus": 2, "resourceLimits": {"cpus": 1}}, "/resourceLimits/cpus")
    assert problems({"resourceLimits": {"cpus": "unlimited", "mem": 128}}) == {}


# -- container ---------------------------------------------------------------------------


def test_docker_container_without_image_names_the_image_path() -> None:
    (message,) = only({"container": {"type": "DOCKER"}}, "/container/docker/image")
    assert "container.docker.image" in message
    app = AppDefinition(
        id=PathId.parse("/web"), cmd="x y", container=Container(docker=DockerSpec(image=""))
    )
    assert [v.path for v in validate_app(app)] == ["/container/docker/image"]


def test_mesos_containers_refuse_docker_only_options() -> None:
    found = problems(
        {
            "container": {
                "type": "MESOS",
                "docker": {
                    "image": "x",
                    "privileged": True,
                    "parameters": [{"key": "a", "value": "b"}],
                },
            }
        }
    )
    assert set(found) == {"/container/docker/parameters", "/container/docker/privileged"}


def test_pull_config_needs_mesos_secrets_and_the_secret() -> None:
    found = problems(
        {"container": {"type": "DOCKER", "docker": {"image": "x", "pullConfig": {"secret": "s"}}}}
    )
    assert found == {
        "/container/docker/pullConfig": ["pullConfig is only supported with container type MESOS"],
        "/container/docker/pullConfig/secret": [
            "Feature secrets is not enabled. Enable with --enable_features secrets",
            "references an undefined secret named 's'; declare it in secrets",
        ],
    }
    ok = {
        "container": {"type": "MESOS", "docker": {"image": "x", "pullConfig": {"secret": "s"}}},
        "secrets": {"s": {"source": "registry"}},
    }
    assert problems(ok, features={"secrets"}) == {}


def test_persistent_volume_rules() -> None:
    volume = {
        "containerPath": "a/b",
        "mode": "RO",
        "persistent": {"size": 0, "maxSize": 0, "constraints": [["path", "IS", "x"]]},
    }
    found = problems({"container": {"type": "MESOS", "volumes": [volume]}})
    assert found["/container/volumes(0)/containerPath"][0].startswith('value must not contain "/"')
    assert found["/container/volumes(0)/mode"] == ["got RO, expected RW"]
    assert found["/container/volumes(0)/persistent/size"] == ["got 0, expected more than 0"]
    assert found["/container/volumes(0)/persistent"] == [
        "Only mount volumes can have maxSize",
        "Max size must be larger than size",
        "Constraints on root volumes are not supported",
    ]
    assert found["/container/volumes(0)/persistent/constraints(0)"] == [
        "Operator must be one of LIKE, UNLIKE"
    ]


def test_persistent_volumes_and_residency_go_together() -> None:
    assert only(
        {
            "residency": {},
            "unreachableStrategy": "disabled",
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
        },
        "/",
    )[0].startswith("App must contain persistent volumes and define residency")


def test_resident_apps_need_disabled_unreachable_and_no_over_capacity() -> None:
    volume = {"containerPath": "data", "mode": "RW", "persistent": {"size": 1}}
    found = problems(
        {
            "container": {"type": "MESOS", "volumes": [volume]},
            "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2},
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
        }
    )
    assert list(found) == ["/upgradeStrategy/maximumOverCapacity", "/unreachableStrategy"]


def test_external_volumes_need_name_provider_and_the_feature() -> None:
    volume = {"containerPath": "/data", "mode": "RW", "external": {}}
    found = problems({"container": {"type": "MESOS", "volumes": [volume, volume]}})
    assert found["/container/volumes(0)/external/name"] == ["must be defined"]
    assert found["/container/volumes(0)/external/provider"] == ["must be defined"]
    assert found["/container/volumes(0)"] == [
        "Feature external_volumes is not enabled. Enable with --enable_features external_volumes"
    ]
    named = {"containerPath": "/d", "mode": "RW", "external": {"name": "v", "provider": "dvdi"}}
    found = problems(
        {
            "container": {"type": "MESOS", "volumes": [named, named]},
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
        },
        features={"external_volumes"},
    )
    assert found == {"/container/volumes": ["Volume names must be unique"]}


def test_secret_volumes_reference_declared_secrets() -> None:
    found = problems(
        {"container": {"type": "MESOS", "volumes": [{"containerPath": "p", "secret": "s"}]}},
        features={"secrets"},
    )
    assert found == {
        "/container/volumes(0)/secret": [
            "references an undefined secret named 's'; declare it in secrets"
        ]
    }


# -- networks and ports ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ([{"mode": "host", "name": "x"}], "Host networks may not have names or labels"),
        ([{"mode": "host", "labels": {"a": "b"}}], "Host networks may not have names or labels"),
        ([{"mode": "container/bridge", "name": "x"}], "Bridge networks may not have names"),
        (
            [{"mode": "container", "name": "a"}, {"mode": "container", "name": "a"}],
            "Duplicate networks are not allowed",
        ),
        ([{"mode": "host"}, {"mode": "container/bridge"}], NETWORK_COUNTS),
        ([{"mode": "container/bridge"}, {"mode": "container/bridge"}], NETWORK_COUNTS),
    ],
)
def test_network_rules(networks: list[JSON], message: str) -> None:
    assert message in problems({"networks": networks}).get("/networks", [])


def test_container_networks_need_a_name_unless_a_default_is_configured() -> None:
    body = {"networks": [{"mode": "container"}]}
    assert list(problems(body)) == ["/networks(0)/name"]
    app = parse_app({"id": "/web", "cmd": "serve", **body}, default_network_name="dcos")
    assert validate_app(app) == []


def test_docker_joins_at_most_one_container_network() -> None:
    body = {
        "container": DOCKER,
        "networks": [{"mode": "container", "name": "a"}, {"mode": "container", "name": "b"}],
    }
    assert problems(body)["/networks"] == [
        "may only specify a single container network when using the Docker container engine"
    ]


def test_port_definitions_only_with_host_networking_for_apps_built_in_code() -> None:
    app = replace(
        AppDefinition(id=PathId.parse("/web"), cmd="serve"),
        networks=(Network(mode=NetworkMode.BRIDGE),),
        container=Container(type=EngineType.MESOS),
    )
    assert validate_app(app) == [
        Violation("/portDefinitions", "portDefinitions are only allowed with host-networking")
    ]


def test_port_names_and_ports_must_be_unique() -> None:
    found = problems(
        {
            "portDefinitions": [
                {"port": 80, "name": "a"},
                {"port": 80, "name": "a"},
                {"port": 0},
                {"port": 0},
            ]
        }
    )
    assert found == {"/portDefinitions": ["Port names must be unique.", "Ports must be unique."]}
    found = problems(
        {**BRIDGE, "container": {**DOCKER, "portMappings": [{"name": "a"}, {"name": "a"}]}}
    )
    assert found == {"/container/portMappings": ["Port names must be unique."]}


def test_host_ports_on_several_container_networks_name_their_network() -> None:
    nets = [{"mode": "container", "name": "a"}, {"mode": "container", "name": "b"}]
    body: Any = {
        "networks": nets,
        "container": {"type": "MESOS", "portMappings": [{"containerPort": 80, "hostPort": 0}]},
    }
    assert list(problems(body)) == ["/container/portMappings(0)/networkNames"]
    body["container"]["portMappings"][0]["networkNames"] = ["a"]
    assert problems(body) == {}
    body["container"]["portMappings"][0]["networkNames"] = ["c"]
    assert problems(body) == {
        "/container/portMappings(0)/networkNames": ["'c' is not one of the app's networks"]
    }


# -- health and readiness checks ---------------------------------------------------------


def test_health_check_port_index_must_address_a_port() -> None:
    assert only({"healthChecks": [{"portIndex": 1}]}, "/healthChecks(0)") == [PORT_INDEX]
    assert only(
        {**BRIDGE, "container": {**DOCKER, "portMappings": []}, "healthChecks": [{"portIndex": 0}]},
        "/healthChecks(0)",
    ) == [PORT_INDEX]
    assert problems({"portDefinitions": [{}, {}], "healthChecks": [{"portIndex": 1}]}) == {}
    # Without any port, only an explicit port works.
    assert only(
        {"portDefinitions": [], "healthChecks": [{"protocol": "TCP"}]}, "/healthChecks(0)"
    ) == [PORT_INDEX]
    assert (
        problems({"portDefinitions": [], "healthChecks": [{"protocol": "TCP", "port": 8080}]}) == {}
    )


def test_command_checks_need_a_command() -> None:
    found = only({"healthChecks": [{"protocol": "COMMAND"}]}, "/healthChecks(0)/command")
    assert found[0].startswith("COMMAND health checks need a command")


def test_at_most_one_mesos_health_check_commands_excepted() -> None:
    checks = [{"protocol": "MESOS_HTTP"}, {"protocol": "MESOS_TCP"}]
    assert only({"healthChecks": checks}, "/") == [
        "AppDefinition can contain at most one Mesos health check"
    ]
    legacy = [
        {"command": {"value": "true"}},
        {"command": {"value": "true"}},
        {"protocol": "MESOS_TCP"},
    ]
    assert problems({"healthChecks": legacy}) == {}


def test_ipv6_only_for_mesos_checks_of_docker_containers() -> None:
    assert list(problems({"healthChecks": [{"protocol": "HTTP", "ipProtocol": "IPv6"}]})) == [
        "/healthChecks(0)/ipProtocol"
    ]
    assert (
        problems(
            {
                "container": DOCKER,
                "healthChecks": [{"protocol": "MESOS_HTTP", "ipProtocol": "IPv6"}],
            }
        )
        == {}
    )


def test_readiness_checks() -> None:
    found = problems(
        {
            "portDefinitions": [{"name": "web"}],
            "readinessChecks": [{"portName": "api", "timeoutSeconds": 30}, {"portName": "web"}],
        }
    )
    assert found == {
        "/readinessChecks": ["got 2, expected 1 or less: an app may have one readiness check"],
        "/readinessChecks(0)/portName": [
            "No port definition reference for portName api: name one of the app's ports "
            "(portDefinitions or container.portMappings)"
        ],
        "/readinessChecks(0)/timeoutSeconds": ["got 30, expected less than 30 (intervalSeconds)"],
    }


def test_app_check_names_one_kind() -> None:
    assert only({"check": {}}, "/check") == ["must specify exactly one of http, tcp or exec"]
    assert list(problems({"check": {"http": {"portIndex": 3}}})) == ["/check/http/portIndex"]
    assert list(problems({"check": {"exec": {"command": {}}}})) == ["/check/exec/command"]


# -- constraints (reference 3.6) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (["hostname", "UNIQUE"], None),
        (
            ["hostname", "UNIQUE", "x"],
            "Value specified but not used: UNIQUE takes no value; remove it",
        ),
        (["rack", "CLUSTER"], None),
        (["rack", "CLUSTER", "rack-1"], None),
        (["rack", "GROUP_BY"], None),
        (["rack", "GROUP_BY", "3"], None),
        (
            ["rack", "GROUP_BY", "three"],
            "Value was specified but is not a number: "
            "GROUP_BY may either have no value or an integer value",
        ),
        (["rack", "LIKE", "rack-[1-3]"], None),
        (["rack", "LIKE"], "A regular expression value must be provided: [field, LIKE, regex]"),
        (["rack", "UNLIKE", "[a-"], "'[a-' is not a valid regular expression"),
        (["rack", "LIKE", "a{99999999999}"], "'a{99999999999}' is not a valid regular expression"),
        (["rack", "MAX_PER", "2"], None),
        (
            ["rack", "MAX_PER"],
            "Value was not specified or is not a number: MAX_PER must have an integer value",
        ),
        (
            ["rack", "MAX_PER", "9" * 5000],
            "Value was not specified or is not a number: MAX_PER must have an integer value",
        ),
        (["level", "IS", "0.8"], None),
        (["level", "IS", "a b"], "'a b' is not a valid IS value: it must match [a-zA-Z0-9_/.-]*"),
        (["level", "IS"], "A value must be provided: [field, IS, value]"),
        (["rack", "LIKEE", "x"], OPERATOR),
        (["", "UNIQUE"], "Missing field and operator"),
    ],
)
def test_constraint_rules(constraint: list[str], message: str | None) -> None:
    found = problems({"constraints": [constraint]})
    assert found == ({} if message is None else {"/constraints(0)": [message]})


def test_constraint_problem_is_exposed_for_placement() -> None:
    assert constraint_problem("hostname", "UNIQUE", None) is None
    assert constraint_problem("a", "nope", None) == OPERATOR
    assert Constraint("a", "UNIQUE").value is None


# -- strategies, labels, roles -----------------------------------------------------------


def test_upgrade_strategy_bounds_for_apps_built_in_code() -> None:
    app = replace(
        AppDefinition(id=PathId.parse("/web"), cmd="serve"),
        upgrade_strategy=UpgradeStrategy(1.5, -0.5),
    )
    assert [v.path for v in validate_app(app)] == [
        "/upgradeStrategy/minimumHealthCapacity",
        "/upgradeStrategy/maximumOverCapacity",
    ]


def test_single_instance_apps() -> None:
    found = problems(
        {
            "labels": {"MARATHON_SINGLE_INSTANCE_APP": "true"},
            "instances": 2,
            "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0},
        }
    )
    assert list(found) == ["/instances", "/upgradeStrategy/minimumHealthCapacity"]
    assert found["/instances"][0].startswith("Single instance app may only have one instance")


def test_unreachable_inactive_may_not_exceed_expunge() -> None:
    found = only(
        {"unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 5}},
        "/unreachableStrategy/inactiveAfterSeconds",
    )
    assert found == ["got 10, expected at most expungeAfterSeconds (5)"]
    app = replace(
        AppDefinition(id=PathId.parse("/w"), cmd="xx"),
        unreachable_strategy=UnreachableEnabled(-1, 0),
    )
    assert [v.path for v in validate_app(app)] == ["/unreachableStrategy/inactiveAfterSeconds"]


def test_accepted_resource_roles() -> None:
    assert only({"acceptedResourceRoles": []}, "/acceptedResourceRoles")[0].startswith(
        "must not be empty"
    )
    assert only({"acceptedResourceRoles": ["*", "public"]}, "/acceptedResourceRoles") == [
        "acceptedResourceRoles can only contain * and * (got public)"
    ]
    assert problems({"role": "public", "acceptedResourceRoles": ["*", "public"]}) == {}


def test_roles_can_be_restricted() -> None:
    assert only({"role": "dev"}, "/role", valid_roles={"*", "prod"}) == [
        "Role 'dev' is not valid. Valid roles are: *, prod"
    ]
    assert only({"role": ""}, "/role") == ["must not be empty"]


def test_env_secret_references() -> None:
    found = problems({"env": {"A": {"secret": "db"}}})
    assert found == {
        "/env/A": ["references an undefined secret named 'db'; declare it in secrets"],
        "/env": [
            "use of secret-references in the environment requires the secrets feature to be enabled"
        ],
    }
    ok = {"env": {"A": {"secret": "db"}}, "secrets": {"db": {"source": "vault/db"}}}
    assert problems(ok, features={"secrets"}) == {}
    assert problems({"secrets": {"db": {"source": "x"}}}) == {
        "/secrets": ["Feature secrets is not enabled. Enable with --enable_features secrets"]
    }


def test_env_names_are_unrestricted_but_not_empty_or_huge() -> None:
    assert problems({"env": {"lower.case-ok": "1"}}) == {}
    assert only({"env": {"": "1"}}, "/env/") == ["variable name must not be empty"]
    assert only({"env": {"A" * 255: "1"}}, "/env/" + "A" * 255) == [
        "variable name must be 254 chars or less"
    ]


# -- ids and dependencies ----------------------------------------------------------------


def test_id_rules() -> None:
    assert list(problems({"id": "/Web"})) == ["/id"]
    assert problems({"id": "/web/restart"})["/id"] == [
        "must not end with any of the following reserved keywords: restart, tasks, versions, ., .."
    ]
    assert problems({"id": "/"})["/id"][0].startswith("Path must contain at least one path element")
    assert problems({"id": "/a-/b"})["/id"][0].startswith("must fully match regular expression")


def test_dependencies_must_be_valid_paths_and_not_the_app() -> None:
    found = problems({"id": "/g/web", "dependencies": ["/DB", "/g/web", "/g", "/other/db"]})
    assert list(found) == ["/dependencies(0)", "/dependencies(1)", "/dependencies(2)"]


def test_fetch_uris_must_not_be_empty_for_apps_built_in_code() -> None:
    from berth.marathon.models import FetchUri

    app = replace(AppDefinition(id=PathId.parse("/w"), cmd="xx"), fetch=(FetchUri(""),))
    assert [v.path for v in validate_app(app)] == ["/fetch(0)/uri"]


# -- reporting ---------------------------------------------------------------------------


def test_every_violation_is_reported_with_its_path() -> None:
    found = problems(
        {
            "id": "/Bad",
            "args": ["x"],
            "constraints": [["a", "NOPE"]],
            "healthChecks": [{"portIndex": 5}],
            "acceptedResourceRoles": [],
        }
    )
    assert list(found) == [
        "/id",
        "/",
        "/healthChecks(0)",
        "/constraints(0)",
        "/acceptedResourceRoles",
    ]


def test_ensure_valid_app_raises_the_marathon_shape() -> None:
    app = parse_app({"id": "/web", "cmd": "a b", "args": ["c"]})
    with pytest.raises(MarathonValidationError) as e:
        ensure_valid_app(app)
    assert e.value.status == 422
    assert e.value.body() == {
        "message": "Object is not valid",
        "details": [{"path": "/", "errors": [CMD_ARGS]}],
    }
    good = parse_app({"id": "/web", "cmd": "a b"})
    assert ensure_valid_app(good) is good


def test_port_definition_defaults_are_valid() -> None:
    assert (
        validate_app(
            AppDefinition(id=PathId.parse("/w"), cmd="xx", port_definitions=(PortDefinition(),) * 2)
        )
        == []
    )
