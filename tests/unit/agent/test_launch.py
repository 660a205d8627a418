"""``launch_spec``: TaskInfo JSON -> LaunchSpec, and the command forms each runtime runs."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.agent.containerizers.docker_config import container_config, parse_timestamp_ns
from berth.agent.launch import (
    DOCKER_SANDBOX,
    CommandSpec,
    LaunchSpec,
    Network,
    PortMapping,
    Volume,
    VolumeMode,
    docker_command,
    launch_spec,
    process_argv,
)
from berth.core.errors import InvalidInput

SANDBOX = Path("/var/lib/berth/sandboxes/c1")


def make_task(**overrides: Any) -> dict[str, Any]:
    """A valid command task; keyword arguments replace top-level TaskInfo fields."""
    task: dict[str, Any] = {
        "name": "web",
        "task_id": {"value": "web.1"},
        "agent_id": {"value": "S0"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 128}},
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 10}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {
                    "range": [{"begin": 31001, "end": 31002}, {"begin": 31010, "end": 31010}]
                },
            },
        ],
        "command": {"value": "echo hi"},
    }
    task.update(overrides)
    return {k: v for k, v in task.items() if v is not None}


def docker_task(docker: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return make_task(container={"type": "DOCKER", "docker": docker}, **overrides)


def spec_of(task: dict[str, Any], **kwargs: Any) -> LaunchSpec:
    return launch_spec(
        task,
        framework_id="F-1",
        agent_id="S0",
        container_id="c1",
        sandbox=SANDBOX,
        agent_hostname="node1",
        **kwargs,
    )


def invalid_path(task: dict[str, Any]) -> str | None:
    with pytest.raises(InvalidInput) as info:
        spec_of(task)
    return info.value.path


# -- the basics -------------------------------------------------------------------------


def test_command_task() -> None:
    spec = spec_of(make_task())
    assert spec.task_id == spec.executor_id == "web.1"
    assert (spec.framework_id, spec.agent_id, spec.container_id) == ("F-1", "S0", "c1")
    assert spec.name == "web"
    assert spec.command == CommandSpec(shell=True, value="echo hi")
    assert (spec.cpus, spec.mem_mb, spec.disk_mb) == (0.5, 128.0, 10.0)
    assert spec.host_ports == (31001, 31002, 31010)
    assert spec.docker is None
    assert spec.kill_grace_seconds == 3.0
    assert spec.container_name == "mesos-c1"


def test_environment_for_a_process() -> None:
    task = make_task(
        command={
            "value": "env",
            "environment": {
                "variables": [{"name": "MODE", "value": "prod"}, {"name": "EMPTY"}],
            },
        }
    )
    env = spec_of(task, extra_env={"PORT0": "31001"}).env
    assert env["MODE"] == "prod"
    assert env["EMPTY"] == ""
    assert env["PORT0"] == "31001"
    assert env["MESOS_SANDBOX"] == str(SANDBOX)
    assert env["MESOS_TASK_ID"] == "web.1"
    assert env["MESOS_FRAMEWORK_ID"] == "F-1"
    assert env["MESOS_AGENT_ID"] == "S0"
    assert env["MESOS_CONTAINER_NAME"] == "mesos-c1"
    assert env["HOST"] == "node1"


def test_task_environment_wins_over_agent_and_mesos_variables() -> None:
    task = make_task(
        command={"value": "env", "environment": {"variables": [{"name": "HOST", "value": "x"}]}}
    )
    env = spec_of(task, extra_env={"HOST": "y", "PORT0": "1"}).env
    assert env["HOST"] == "x"


def test_docker_sandbox_is_the_container_path() -> None:
    spec = spec_of(docker_task({"image": "busybox"}))
    assert spec.env["MESOS_SANDBOX"] == DOCKER_SANDBOX == "/mnt/mesos/sandbox"


def test_labels_and_kill_policy() -> None:
    task = make_task(
        labels={"labels": [{"key": "app", "value": "web"}, {"key": "flag"}]},
        kill_policy={"grace_period": {"nanoseconds": 1_500_000_000}},
    )
    spec = spec_of(task)
    assert dict(spec.labels) == {"app": "web", "flag": ""}
    assert spec.kill_grace_seconds == 1.5


def test_numbers_given_as_strings_are_accepted() -> None:
    task = make_task(
        resources=[{"name": "mem", "type": "SCALAR", "scalar": {"value": "64"}}],
        kill_policy={"grace_period": {"nanoseconds": "2000000000"}},
    )
    spec = spec_of(task)
    assert spec.mem_mb == 64.0
    assert spec.kill_grace_seconds == 2.0


def test_scalars_of_several_roles_add_up() -> None:
    task = make_task(
        resources=[
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}, "role": "*"},
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, "role": "web"},
        ]
    )
    assert spec_of(task).cpus == 0.75


@pytest.mark.parametrize(
    ("limits", "cpus", "mem"),
    [
        ({"cpus": {"value": 1.0}, "mem": {"value": 512}}, 1.0, 512.0),  # proto JSON form
        ({"cpus": 2, "mem": 256}, 2.0, 256.0),  # the HTTP API doc's bare numbers
        ({"cpus": "Infinity"}, None, 128.0),  # infinite limit: no limit at all
        ({"mem": {"value": "Infinity"}}, 0.5, None),
        ({}, 0.5, 128.0),
    ],
)
def test_limits_override_resources(
    limits: dict[str, Any], cpus: float | None, mem: float | None
) -> None:
    spec = spec_of(make_task(limits=limits))
    assert (spec.cpus, spec.mem_mb) == (cpus, mem)


def test_no_resources_means_no_limits() -> None:
    spec = spec_of(make_task(resources=None))
    assert (spec.cpus, spec.mem_mb, spec.disk_mb, spec.host_ports) == (None, None, None, ())


# -- docker -----------------------------------------------------------------------------


def test_docker_task() -> None:
    task = docker_task(
        {
            "image": "python:3.11-slim",
            "network": "BRIDGE",
            "privileged": True,
            "port_mappings": [{"host_port": 31001, "container_port": 8000, "protocol": "tcp"}],
            "parameters": [{"key": "label", "value": "team=x"}],
            "force_pull_image": True,
        }
    )
    docker = spec_of(task).docker
    assert docker is not None
    assert docker.image == "python:3.11-slim"
    assert docker.network is Network.BRIDGE
    assert docker.network_name is None
    assert docker.port_mappings == (PortMapping(31001, 8000, "tcp"),)
    assert docker.privileged
    assert docker.parameters == (("label", "team=x"),)
    assert docker.force_pull


def test_docker_defaults_to_host_network() -> None:
    docker = spec_of(docker_task({"image": "busybox"})).docker
    assert docker is not None
    assert (docker.network, docker.port_mappings, docker.force_pull) == (Network.HOST, (), False)


def test_user_network_takes_its_name_from_network_infos() -> None:
    task = make_task(
        container={
            "type": "DOCKER",
            "docker": {"image": "busybox", "network": "USER"},
            "network_infos": [{"name": "overlay"}],
        }
    )
    docker = spec_of(task).docker
    assert docker is not None
    assert (docker.network, docker.network_name) == (Network.USER, "overlay")


def test_mesos_container_with_a_docker_image_runs_as_docker() -> None:
    task = make_task(
        container={
            "type": "MESOS",
            "mesos": {
                "image": {"type": "DOCKER", "docker": {"name": "alpine:3.19"}, "cached": False}
            },
        }
    )
    spec = spec_of(task)
    assert spec.docker is not None
    assert spec.docker.image == "alpine:3.19"
    assert spec.docker.force_pull
    assert spec.env["MESOS_SANDBOX"] == DOCKER_SANDBOX


def test_mesos_container_without_image_is_a_process() -> None:
    task = make_task(
        container={
            "type": "MESOS",
            "volumes": [{"container_path": "data", "host_path": "/srv/data", "mode": "RO"}],
        }
    )
    spec = spec_of(task)
    assert spec.docker is None
    assert spec.volumes == (Volume("data", "/srv/data", VolumeMode.RO),)


def test_docker_without_command_runs_the_image_default() -> None:
    spec = spec_of(docker_task({"image": "nginx"}, command=None))
    assert spec.command is None
    assert docker_command(spec.command) == (None, None)


def test_volumes_relative_host_path_lives_in_the_sandbox() -> None:
    task = docker_task(
        {"image": "busybox"},
    )
    task["container"]["volumes"] = [
        {"container_path": "/data", "host_path": "/srv/data", "mode": "RW"},
        {"container_path": "/cache", "host_path": "cache/dir"},
    ]
    assert spec_of(task).volumes == (
        Volume("/data", "/srv/data", VolumeMode.RW),
        Volume("/cache", str(SANDBOX / "cache/dir"), VolumeMode.RW),
    )


# -- what cannot run --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "path"),
    [
        (make_task(task_id=None), "task_id"),
        (make_task(task_id={"value": ""}), "task_id"),
        (make_task(command=None), "command"),
        (make_task(command={"shell": False, "arguments": ["x"]}), "command.value"),
        (make_task(executor={"executor_id": {"value": "e"}}), "executor"),
        (make_task(container={"type": "DOCKER"}), "container.docker.image"),
        (docker_task({"image": ""}), "container.docker.image"),
        (docker_task({"image": "busybox", "network": "WIFI"}), "container.docker.network"),
        (docker_task({"image": "busybox", "network": "USER"}), "container.network_infos[0].name"),
        (make_task(container={"type": "APPC"}), "container.type"),
        (
            make_task(container={"type": "MESOS", "mesos": {"image": {"type": "APPC"}}}),
            "container.mesos.image.type",
        ),
        (
            make_task(kill_policy={"grace_period": {"nanoseconds": -1}}),
            "kill_policy.grace_period.nanoseconds",
        ),
        (make_task(limits={"cpus": "lots"}), "limits.cpus"),
        (make_task(limits={"mem": 0}), "limits.mem"),
        (
            make_task(resources=[{"name": "mem", "scalar": {"value": -1}}]),
            "resources[0].scalar.value",
        ),
        (
            make_task(command={"value": "x", "environment": {"variables": [{"value": "v"}]}}),
            "command.environment.variables[0].name",
        ),
    ],
)
def test_invalid_tasks_name_the_field(task: dict[str, Any], path: str) -> None:
    assert invalid_path(task) == path


@pytest.mark.parametrize(
    ("mapping", "network", "field"),
    [
        # host port outside the task's ports resource
        ({"host_port": 32000, "container_port": 80}, "BRIDGE", "[0].host_port"),
        ({"host_port": 31001, "container_port": 0}, "BRIDGE", "[0].container_port"),
        ({"host_port": 31001, "container_port": 80, "protocol": "icmp"}, "BRIDGE", "[0].protocol"),
        # Mesos refuses port mappings on host networking
        ({"host_port": 31001, "container_port": 80}, "HOST", ""),
    ],
)
def test_bad_port_mappings(mapping: dict[str, Any], network: str, field: str) -> None:
    task = docker_task({"image": "busybox", "network": network, "port_mappings": [mapping]})
    assert invalid_path(task) == "container.docker.port_mappings" + field


def test_a_host_port_mapped_twice_is_invalid() -> None:
    mappings = [
        {"host_port": 31001, "container_port": 80},
        {"host_port": 31001, "container_port": 81},
    ]
    task = docker_task({"image": "busybox", "network": "BRIDGE", "port_mappings": mappings})
    assert invalid_path(task) == "container.docker.port_mappings[1].host_port"


def test_udp_and_tcp_in_one_mapping_become_two() -> None:
    mappings = [{"host_port": 31001, "container_port": 53, "protocol": "udp,tcp"}]
    task = docker_task({"image": "busybox", "network": "BRIDGE", "port_mappings": mappings})
    assert spec_of(task).port_mappings == (
        PortMapping(31001, 53, "udp"),
        PortMapping(31001, 53, "tcp"),
    )


def test_relative_paths_cannot_leave_the_sandbox() -> None:
    task = docker_task({"image": "busybox"})
    task["container"]["volumes"] = [{"container_path": "/x", "host_path": "../../etc"}]
    assert invalid_path(task) == "container.volumes[0].host_path"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_fields = st.sampled_from(
    ["task_id", "name", "command", "container", "resources", "limits", "labels", "kill_policy"]
)


@given(st.dictionaries(_fields, _json, max_size=4))
def test_garbage_is_invalid_input_never_a_crash(junk: dict[str, Any]) -> None:
    # Bad input must come back as InvalidInput (a 4xx), never as TypeError & co.
    task = make_task()
    task.update(junk)
    with contextlib.suppress(InvalidInput):
        spec_of(task)


@given(
    st.fixed_dictionaries(
        {"container": st.fixed_dictionaries({"type": st.just("DOCKER"), "docker": _json})}
    )
)
def test_garbage_docker_info_is_invalid_input(junk: dict[str, Any]) -> None:
    task = make_task()
    task.update(junk)
    with contextlib.suppress(InvalidInput):
        spec_of(task)


# -- command forms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "program", "argv"),
    [
        (CommandSpec(value="echo $HOME"), "/bin/sh", ("/bin/sh", "-c", "echo $HOME")),
        # shell=false: value is the program, arguments the full argv (argv[0] included)
        (
            CommandSpec(shell=False, value="/bin/echo", arguments=("echo", "a b")),
            "/bin/echo",
            ("echo", "a b"),
        ),
        (CommandSpec(shell=False, value="/bin/true"), "/bin/true", ("/bin/true",)),
    ],
)
def test_process_argv(command: CommandSpec, program: str, argv: tuple[str, ...]) -> None:
    assert process_argv(command) == (program, argv)


def test_process_needs_a_value() -> None:
    with pytest.raises(InvalidInput):
        process_argv(CommandSpec(shell=False, arguments=("a",)))


@pytest.mark.parametrize(
    ("command", "entrypoint", "cmd"),
    [
        (None, None, None),  # image defaults
        (CommandSpec(), None, None),
        # shell=true overrides the entrypoint with the shell
        (CommandSpec(value="echo hi"), ["/bin/sh", "-c"], ["echo hi"]),
        # Marathon `args`: keep the image ENTRYPOINT, arguments are its command
        (CommandSpec(shell=False, arguments=("--port", "80")), None, ["--port", "80"]),
        (CommandSpec(shell=True, arguments=("--port", "80")), None, ["--port", "80"]),
        # shell=false with a value: the value replaces the entrypoint, argv[0] dropped
        (
            CommandSpec(shell=False, value="/bin/echo", arguments=("echo", "hi")),
            ["/bin/echo"],
            ["hi"],
        ),
        (CommandSpec(shell=False, value="/bin/date"), ["/bin/date"], []),
    ],
)
def test_docker_command(
    command: CommandSpec | None, entrypoint: list[str] | None, cmd: list[str] | None
) -> None:
    assert docker_command(command) == (entrypoint, cmd)


# -- the Docker container definition ----------------------------------------------------


def test_container_config_for_bridge_with_ports() -> None:
    task = docker_task(
        {
            "image": "busybox",
            "network": "BRIDGE",
            "port_mappings": [{"host_port": 31002, "container_port": 8080}],
            "parameters": [
                {"key": "label", "value": "team=x"},
                {"key": "env", "value": "EXTRA=1"},
                {"key": "restart", "value": "always"},  # ignored: the agent owns restarts
            ],
        },
        labels={"labels": [{"key": "app", "value": "web"}]},
        limits={"cpus": 1.5, "mem": 64},
    )
    task["container"]["volumes"] = [
        {"container_path": "data", "host_path": "/srv/d", "mode": "RO"},
    ]
    config = container_config(spec_of(task), "S0")
    host = config["HostConfig"]
    assert config["Image"] == "busybox"
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Cmd"] == ["echo hi"]
    assert "MESOS_TASK_ID=web.1" in config["Env"]
    assert "EXTRA=1" in config["Env"]
    assert config["Labels"] == {
        "app": "web",
        "team": "x",
        "berth.agent_id": "S0",
        "berth.container_id": "c1",
        "berth.task_id": "web.1",
        "berth.framework_id": "F-1",
    }
    assert config["ExposedPorts"] == {"8080/tcp": {}}
    assert host["PortBindings"] == {"8080/tcp": [{"HostPort": "31002"}]}
    assert host["NetworkMode"] == "bridge"
    assert host["Init"] is True
    assert host["Memory"] == host["MemorySwap"] == 64 * 2**20
    assert host["NanoCpus"] == 1_500_000_000
    assert host["Binds"] == [
        f"{SANDBOX}:/mnt/mesos/sandbox:rw",
        "/srv/d:/mnt/mesos/sandbox/data:ro",
    ]
    assert "RestartPolicy" not in host


def test_container_config_keeps_the_image_command_without_one() -> None:
    config = container_config(spec_of(docker_task({"image": "nginx"}, command=None)), "S0")
    assert "Entrypoint" not in config
    assert "Cmd" not in config
    assert config["HostConfig"]["NetworkMode"] == "host"


def test_docker_timestamps() -> None:
    assert parse_timestamp_ns("2024-01-02T03:04:05.123456789Z") == 1704164645_123456789
    # RFC 3339 nano drops trailing zeros; the value must not shift.
    assert parse_timestamp_ns("2024-01-02T03:04:05.1Z") == 1704164645_100000000
    assert parse_timestamp_ns("2024-01-02T03:04:05Z") == 1704164645_000000000


@pytest.mark.parametrize(
    ("resources", "limits"),
    [
        ([{"name": "mem", "scalar": {"value": 10**400}}], None),
        ([{"name": "mem", "scalar": {"value": "1e400"}}], None),
        (None, {"mem": 10**400}),
        (None, {"cpus": "NaN"}),
    ],
)
def test_absurd_numbers_are_invalid(resources: Any, limits: Any) -> None:
    with pytest.raises(InvalidInput):
        spec_of(make_task(resources=resources, limits=limits))
