"""The Docker Engine side of a ``LaunchSpec``, as pure functions.

``container_config`` turns a spec into the ``POST /containers/create`` body (command
forms, limits, networks, ports, volumes, labels, and the ``docker run`` parameters the
Engine API can express); ``termination_from_state`` reads how a container ended from
``inspect``; ``parse_timestamp_ns`` reads the timestamps of the log stream.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from berth.agent.containerizers.base import (
    BERTH_LABEL_AGENT,
    BERTH_LABEL_CONTAINER,
    BERTH_LABEL_FRAMEWORK,
    BERTH_LABEL_TASK,
    LaunchError,
    Termination,
    exit_message,
    oom_message,
)
from berth.agent.launch import DOCKER_SANDBOX, LaunchSpec, Network, docker_command

log = logging.getLogger(__name__)


def container_config(spec: LaunchSpec, agent_id: str) -> dict[str, Any]:
    """The Docker Engine ``POST /containers/create`` body for ``spec``.

    >>> from pathlib import Path
    >>> from berth.agent.launch import CommandSpec, DockerSpec
    >>> spec = LaunchSpec("t1", "F", "S0", "c1", "t1", "t", Path("/sb"),
    ...     CommandSpec(value="echo hi"), docker=DockerSpec("busybox"), mem_mb=64)
    >>> cfg = container_config(spec, "S0")
    >>> cfg["Entrypoint"], cfg["Cmd"], cfg["HostConfig"]["Memory"], cfg["HostConfig"]["Init"]
    (['/bin/sh', '-c'], ['echo hi'], 67108864, True)
    """
    assert spec.docker is not None, "container_config needs a docker spec"
    docker = spec.docker
    entrypoint, cmd = docker_command(spec.command)
    binds = [f"{spec.sandbox}:{DOCKER_SANDBOX}:rw"]
    for volume in spec.volumes:
        target = volume.container_path
        if not target.startswith("/"):
            target = f"{DOCKER_SANDBOX}/{target}"
        binds.append(f"{volume.host_path}:{target}:{volume.mode.value.lower()}")
    network_mode = {
        Network.HOST: "host",
        Network.BRIDGE: "bridge",
        Network.NONE: "none",
        Network.USER: docker.network_name or "bridge",
    }[docker.network]
    host_config: dict[str, Any] = {
        "Init": True,
        "Binds": binds,
        "NetworkMode": network_mode,
        "Privileged": docker.privileged,
    }
    if spec.cpus:
        host_config["NanoCpus"] = round(spec.cpus * 1e9)
        host_config["CpuShares"] = max(2, round(spec.cpus * 1024))
    if spec.mem_mb:
        host_config["Memory"] = int(spec.mem_mb * 2**20)
        host_config["MemorySwap"] = host_config["Memory"]  # no swap beyond the limit
    config: dict[str, Any] = {
        "Image": docker.image,
        "Env": [f"{k}={v}" for k, v in spec.env.items()],
        "Labels": {
            **spec.labels,
            BERTH_LABEL_AGENT: agent_id,
            BERTH_LABEL_CONTAINER: spec.container_id,
            BERTH_LABEL_TASK: spec.task_id,
            BERTH_LABEL_FRAMEWORK: spec.framework_id,
        },
        "HostConfig": host_config,
    }
    if entrypoint is not None:
        config["Entrypoint"] = entrypoint
        config["Cmd"] = cmd or []
    elif cmd is not None:
        config["Cmd"] = cmd
    if docker.port_mappings:
        exposed: dict[str, dict[str, Any]] = {}
        bindings: dict[str, list[dict[str, str]]] = {}
        for pm in docker.port_mappings:
            key = f"{pm.container_port}/{pm.protocol}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostPort": str(pm.host_port)})
        config["ExposedPorts"] = exposed
        host_config["PortBindings"] = bindings
    for key, value in docker.parameters:
        _apply_parameter(config, key, value)
    return config


def _size(value: str) -> int:
    """Docker's human sizes: ``64m`` -> 67108864."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*", value.lower())
    if match is None:
        raise ValueError(f"bad size {value!r}")
    scale = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2)]
    return int(float(match.group(1)) * scale)


def _ulimit(value: str) -> dict[str, Any]:
    name, _, limits = value.partition("=")
    soft, _, hard = limits.partition(":")
    return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}


def _key_value(value: str) -> tuple[str, str]:
    key, _, val = value.partition("=")
    return key, val


def _host(config: dict[str, Any]) -> dict[str, Any]:
    host: dict[str, Any] = config["HostConfig"]
    return host


def _append(config: dict[str, Any], key: str, value: Any) -> None:
    config.setdefault(key, []).append(value)


# `docker run --key=value` flags Berth can express through the Engine API. Flags that
# would fight the agent (restart policies, names, resource overrides, log drivers that
# the sandbox log follower cannot read) are deliberately not here: they are ignored.
_PARAMETERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "env": lambda c, v: _append(c, "Env", v),
    "label": lambda c, v: c["Labels"].setdefault(*_key_value(v)),
    "user": lambda c, v: c.__setitem__("User", v),
    "workdir": lambda c, v: c.__setitem__("WorkingDir", v),
    "hostname": lambda c, v: c.__setitem__("Hostname", v),
    "entrypoint": lambda c, v: c.__setitem__("Entrypoint", [v]),
    "stop-signal": lambda c, v: c.__setitem__("StopSignal", v),
    "cap-add": lambda c, v: _append(_host(c), "CapAdd", v),
    "cap-drop": lambda c, v: _append(_host(c), "CapDrop", v),
    "add-host": lambda c, v: _append(_host(c), "ExtraHosts", v),
    "dns": lambda c, v: _append(_host(c), "Dns", v),
    "dns-search": lambda c, v: _append(_host(c), "DnsSearch", v),
    "dns-option": lambda c, v: _append(_host(c), "DnsOptions", v),
    "volume": lambda c, v: _append(_host(c), "Binds", v),
    "security-opt": lambda c, v: _append(_host(c), "SecurityOpt", v),
    "group-add": lambda c, v: _append(_host(c), "GroupAdd", v),
    "ulimit": lambda c, v: _append(_host(c), "Ulimits", _ulimit(v)),
    "shm-size": lambda c, v: _host(c).__setitem__("ShmSize", _size(v)),
    "tmpfs": lambda c, v: _host(c).setdefault("Tmpfs", {}).__setitem__(*_key_value(v)),
    "sysctl": lambda c, v: _host(c).setdefault("Sysctls", {}).__setitem__(*_key_value(v)),
    "read-only": lambda c, v: _host(c).__setitem__("ReadonlyRootfs", v.lower() != "false"),
    "pid": lambda c, v: _host(c).__setitem__("PidMode", v),
    "ipc": lambda c, v: _host(c).__setitem__("IpcMode", v),
    "uts": lambda c, v: _host(c).__setitem__("UTSMode", v),
    "runtime": lambda c, v: _host(c).__setitem__("Runtime", v),
    "oom-score-adj": lambda c, v: _host(c).__setitem__("OomScoreAdj", int(v)),
    "pids-limit": lambda c, v: _host(c).__setitem__("PidsLimit", int(v)),
    "device": lambda c, v: _append(
        _host(c),
        "Devices",
        {
            "PathOnHost": v.split(":")[0],
            "PathInContainer": [*v.split(":"), v.split(":")[0]][1],
            "CgroupPermissions": [*v.split(":"), "", "rwm"][2] or "rwm",
        },
    ),
}
_ALIASES = {"e": "env", "l": "label", "u": "user", "w": "workdir", "h": "hostname", "v": "volume"}
_warned_parameters: set[str] = set()


def _apply_parameter(config: dict[str, Any], key: str, value: str) -> None:
    key = key.lstrip("-")
    key = _ALIASES.get(key, key)
    apply = _PARAMETERS.get(key)
    if apply is None:
        if key not in _warned_parameters:
            _warned_parameters.add(key)
            log.warning("docker parameter --%s is not supported; ignored", key)
        return
    try:
        apply(config, value)
    except (ValueError, IndexError) as e:
        raise LaunchError(f"docker parameter --{key}={value}: {e}") from e


def parse_timestamp_ns(stamp: str) -> int:
    """Nanoseconds since the epoch for a Docker RFC 3339 (nano) UTC timestamp.

    >>> parse_timestamp_ns("1970-01-01T00:00:01.5Z")
    1500000000
    """
    stamp = stamp.strip()
    if stamp.endswith("Z"):
        stamp = stamp[:-1]
    whole, _, fraction = stamp.partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(seconds) * 1_000_000_000 + nanos


def termination_from_state(state: Mapping[str, Any], mem_limit: int | None) -> Termination:
    """How a container ended, from ``inspect``'s ``State``.

    >>> termination_from_state({"ExitCode": 137, "OOMKilled": True}, 32 * 2**20).oom_killed
    True
    """
    code = state.get("ExitCode")
    code = code if isinstance(code, int) else None
    if state.get("OOMKilled"):
        return Termination(code, None, True, oom_message(mem_limit))
    message = exit_message(code, None)
    if code is not None and 128 < code < 128 + 65:
        # docker-init passes a signal death on as 128+N, like a shell does.
        with contextlib.suppress(ValueError):
            message += f" (terminated by {signal.Signals(code - 128).name})"
    if state.get("Error"):
        message += f": {state['Error']}"
    return Termination(code, None, False, message)
