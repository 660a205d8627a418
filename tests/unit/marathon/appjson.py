"""Hypothesis strategies for Marathon app and group bodies, and small test helpers.

``app_bodies()`` draws request bodies the way clients write them: canonical fields, legacy
forms (``ports``, ``uris``, ``ipAddress``, ``container.docker.network``/``portMappings``),
any mix of optional fields. Bodies have the right shapes, but not every one is
semantically valid (validation is tested separately); a few legacy combinations conflict,
and tests that need a parsed app drop those with ``assume``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from berth.marathon.models import AppDefinition, MarathonValidationError, Violation, parse_app

JSON = dict[str, Any]

names = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3})?", fullmatch=True)
segments = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,4}[a-z0-9])?", fullmatch=True)
ids = st.lists(segments, min_size=1, max_size=3).map(lambda s: "/" + "/".join(s))
relative_ids = st.lists(segments | st.just(".."), min_size=1, max_size=3).map("/".join)
texts = st.text(max_size=8)
nonempty = st.text(min_size=1, max_size=8)
labels = st.dictionaries(nonempty, texts, max_size=2)
ports = st.integers(0, 65535)
small = st.integers(0, 1000)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def maybe_upper(values: list[str]) -> st.SearchStrategy[str]:
    """Enum values as clients write them: usually as documented, sometimes in another case."""
    return st.sampled_from(values) | st.sampled_from(values).map(str.swapcase)


def optional(**members: st.SearchStrategy[Any]) -> st.SearchStrategy[JSON]:
    return st.fixed_dictionaries({}, optional=members)


port_definitions = optional(
    port=ports, protocol=maybe_upper(["tcp", "udp", "udp,tcp"]), name=names, labels=labels
)
port_mappings = optional(
    containerPort=ports,
    hostPort=ports,
    servicePort=ports,
    protocol=st.sampled_from(["tcp", "udp", "udp,tcp"]),
    name=names,
    labels=labels,
)
networks: st.SearchStrategy[list[JSON]] = st.one_of(
    st.just([{"mode": "host"}]),
    st.just([{"mode": "container/bridge"}]),
    st.lists(
        st.fixed_dictionaries({"mode": st.just("container"), "name": names}), min_size=1, max_size=2
    ),
    st.just([]),
)
health_checks = optional(
    protocol=maybe_upper(
        ["HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"]
    ),
    path=texts,
    portIndex=st.integers(0, 3),
    port=ports,
    command=st.fixed_dictionaries({"value": nonempty}),
    gracePeriodSeconds=small,
    intervalSeconds=small,
    timeoutSeconds=small,
    maxConsecutiveFailures=small,
    delaySeconds=small,
    ignoreHttp1xx=st.booleans(),
    ipProtocol=st.sampled_from(["IPv4", "IPv6"]),
)
readiness_checks = optional(
    name=nonempty,
    protocol=st.sampled_from(["HTTP", "HTTPS"]),
    path=nonempty,
    portName=names,
    intervalSeconds=st.integers(1, 100),
    timeoutSeconds=st.integers(1, 100),
    httpStatusCodesForReady=st.lists(st.integers(100, 599), max_size=3),
    preserveLastResponse=st.booleans(),
)
volumes = st.one_of(
    st.fixed_dictionaries(
        {"containerPath": nonempty, "hostPath": nonempty},
        optional={"mode": st.sampled_from(["RO", "RW"])},
    ),
    st.fixed_dictionaries(
        {
            "containerPath": names,
            "mode": st.just("RW"),
            "persistent": st.fixed_dictionaries(
                {"size": st.integers(1, 10000)},
                optional={
                    "type": st.sampled_from(["root", "path", "mount"]),
                    "maxSize": st.integers(1, 20000),
                    "profileName": names,
                    "constraints": st.lists(
                        st.tuples(st.just("path"), st.just("LIKE"), names).map(list), max_size=1
                    ),
                },
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "containerPath": nonempty,
            "mode": st.sampled_from(["RO", "RW"]),
            "external": optional(name=names, provider=names, options=labels, size=small),
        }
    ),
    st.fixed_dictionaries({"containerPath": nonempty, "secret": names}),
)
docker = st.fixed_dictionaries(
    {"image": st.sampled_from(["python:3", "nginx", "busybox:1.36"])},
    optional={
        "forcePullImage": st.booleans(),
        "privileged": st.booleans(),
        "parameters": st.lists(
            st.fixed_dictionaries({"key": nonempty, "value": texts}), max_size=2
        ),
        "pullConfig": st.fixed_dictionaries({"secret": names}),
    },
)
linux_info = optional(
    seccomp=optional(profileName=names, unconfined=st.booleans()),
    ipcInfo=st.fixed_dictionaries(
        {"mode": st.sampled_from(["PRIVATE", "SHARE_PARENT"])}, optional={"shmSize": small}
    ),
)
containers = optional(
    type=maybe_upper(["DOCKER", "MESOS"]),
    docker=docker,
    volumes=st.lists(volumes, max_size=2),
    portMappings=st.lists(port_mappings, max_size=3),
    linuxInfo=linux_info,
)
constraints = st.lists(
    st.one_of(
        st.tuples(names, st.sampled_from(["UNIQUE", "unique", "CLUSTER"])).map(list),
        st.tuples(
            names,
            st.sampled_from(["CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"]),
            texts,
        ).map(list),
    ),
    max_size=3,
)
checks = optional(
    http=optional(
        portIndex=st.integers(0, 3), path=nonempty, scheme=st.sampled_from(["HTTP", "HTTPS"])
    ),
    tcp=optional(portIndex=st.integers(0, 3)),
    exec=st.fixed_dictionaries(
        {
            "command": st.one_of(
                st.fixed_dictionaries({"shell": nonempty}),
                optional(argv=st.lists(texts, max_size=2)),
            )
        }
    ),
    intervalSeconds=small,
    timeoutSeconds=small,
    delaySeconds=small,
)
env_values = texts | st.fixed_dictionaries({"secret": names})

app_members: dict[str, st.SearchStrategy[Any]] = {
    "cmd": st.text(min_size=1, max_size=12),
    "args": st.lists(texts, max_size=2),
    "user": names,
    "env": st.dictionaries(nonempty, env_values, max_size=3),
    "instances": st.integers(0, 20),
    "cpus": st.floats(0.001, 64) | st.integers(1, 8),
    "mem": st.floats(0, 1e6) | st.integers(0, 4096),
    "disk": st.floats(0, 1e6),
    "gpus": st.integers(0, 2),
    "executor": st.sampled_from(["", "//cmd", "/usr/bin/exec"]),
    "constraints": constraints,
    "fetch": st.lists(
        st.fixed_dictionaries(
            {"uri": st.sampled_from(["http://x/a.tgz", "https://y/b.bin"])},
            optional={
                "extract": st.booleans(),
                "executable": st.booleans(),
                "cache": st.booleans(),
                "destPath": names,
            },
        ),
        max_size=2,
    ),
    "storeUrls": st.lists(st.just("http://store/x"), max_size=1),
    "portDefinitions": st.lists(port_definitions, max_size=3),
    "requirePorts": st.booleans(),
    "backoffSeconds": small,
    "backoffFactor": st.floats(1.0, 10.0),
    "maxLaunchDelaySeconds": small,
    "container": containers,
    "networks": networks,
    "healthChecks": st.lists(health_checks, max_size=2),
    "readinessChecks": st.lists(readiness_checks, max_size=2),
    "dependencies": st.lists(ids | relative_ids, max_size=2),
    "upgradeStrategy": optional(
        minimumHealthCapacity=st.floats(0, 1), maximumOverCapacity=st.floats(0, 1)
    ),
    "labels": labels | st.just({"MARATHON_SINGLE_INSTANCE_APP": "true"}),
    "acceptedResourceRoles": st.lists(st.sampled_from(["*", "slave_public"]), max_size=2),
    "role": st.sampled_from(["*", "slave_public", "dev"]),
    "killSelection": maybe_upper(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
    "unreachableStrategy": st.one_of(
        st.sampled_from(["disabled", "DISABLED"]),
        optional(
            inactiveAfterSeconds=st.integers(0, 2**40), expungeAfterSeconds=st.integers(0, 2**40)
        ),
    ),
    "taskKillGracePeriodSeconds": small,
    "residency": optional(
        relaunchEscalationTimeoutSeconds=small,
        taskLostBehavior=st.sampled_from(["WAIT_FOREVER", "RELAUNCH_AFTER_TIMEOUT"]),
    ),
    "secrets": st.dictionaries(names, st.fixed_dictionaries({"source": nonempty}), max_size=2),
    "tty": st.booleans(),
    "check": checks,
    "executorResources": optional(cpus=st.floats(0, 4), mem=small, disk=small),
    "resourceLimits": optional(
        cpus=st.floats(0, 64) | st.just("unlimited"), mem=small | st.just("unlimited")
    ),
    "version": timestamps.map(ts),
    "versionInfo": st.fixed_dictionaries(
        {"lastScalingAt": timestamps.map(ts), "lastConfigChangeAt": timestamps.map(ts)}
    ),
    # Legacy forms
    "ports": st.lists(ports, max_size=3),
    "uris": st.lists(st.sampled_from(["http://x/a.tar.gz", "http://x/b.txt"]), max_size=2),
    "ipAddress": optional(
        networkName=names,
        labels=labels,
        groups=st.lists(names, max_size=1),
        discovery=optional(
            ports=st.lists(
                st.fixed_dictionaries(
                    {"name": names}, optional={"number": ports, "protocol": st.just("tcp")}
                ),
                max_size=2,
            )
        ),
    ),
    # Read-only echoes, to be ignored
    "tasksRunning": small,
    "deployments": st.just([{"id": "5ed4c0c5"}]),
    "tasks": st.just([{"id": "t1", "ports": [1]}]),
}


@st.composite
def app_bodies(draw: st.DrawFn, id_strategy: st.SearchStrategy[str] = ids) -> JSON:
    body: JSON = {"id": draw(id_strategy)}
    body.update(draw(st.fixed_dictionaries({}, optional=app_members)))
    if draw(st.booleans()) and isinstance(body.get("container"), dict):
        # The legacy Docker forms live inside the container.
        legacy = draw(
            optional(
                network=st.sampled_from(["BRIDGE", "HOST", "USER", "bridge"]),
                portMappings=st.lists(port_mappings, max_size=2),
            )
        )
        docker_section = body["container"].setdefault("docker", {"image": "nginx"})
        docker_section.update(legacy)
    return body


def parsed(body: JSON) -> AppDefinition | None:
    """The parsed app, or None when the body's legacy forms conflict."""
    try:
        return parse_app(body)
    except MarathonValidationError:
        return None


def paths(violations: list[Violation]) -> list[str]:
    return [v.path for v in violations]


def messages_at(violations: list[Violation], path: str) -> list[str]:
    return [v.message for v in violations if v.path == path]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def valid_app_bodies(draw: st.DrawFn) -> JSON:
    """Bodies that pass validation: the apps people actually deploy, in many variants."""
    body: JSON = {"id": draw(ids), "instances": draw(st.integers(0, 10))}
    mode = draw(st.sampled_from(["host", "bridge", "container"]))
    port_names = draw(st.lists(names, min_size=0, max_size=3, unique=True))
    if mode == "host":
        body["portDefinitions"] = [
            {"port": 0, "name": n, "protocol": draw(st.sampled_from(["tcp", "udp"]))}
            for n in port_names
        ]
        if draw(st.booleans()):
            body["cmd"] = draw(st.sampled_from(["sleep 1000", "python3 -m http.server $PORT0"]))
        else:
            body["container"] = {"type": "DOCKER", "docker": {"image": "python:3"}}
    else:
        body["networks"] = (
            [{"mode": "container/bridge"}]
            if mode == "bridge"
            else [{"mode": "container", "name": "dcos"}]
        )
        body["container"] = {
            "type": draw(st.sampled_from(["DOCKER", "MESOS"])),
            "docker": {"image": "nginx"},
            "portMappings": [
                {"containerPort": draw(st.integers(1, 65535)), "name": n} for n in port_names
            ],
        }
    n_ports = len(port_names)
    if n_ports:
        body["healthChecks"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "protocol": st.sampled_from(["HTTP", "HTTPS", "TCP"]),
                        "portIndex": st.integers(0, n_ports - 1),
                    }
                ),
                max_size=2,
            )
        )
        if draw(st.booleans()):
            body["readinessChecks"] = [{"portName": draw(st.sampled_from(port_names))}]
    body.update(
        draw(
            optional(
                cpus=st.floats(0.001, 16),
                mem=st.floats(0, 65536),
                disk=st.floats(0, 1e5),
                env=st.dictionaries(
                    st.from_regex(r"[A-Z_]{1,6}", fullmatch=True), texts, max_size=3
                ),
                labels=labels,
                constraints=st.lists(
                    st.sampled_from(
                        [
                            ["hostname", "UNIQUE"],
                            ["rack", "GROUP_BY", "3"],
                            ["rack", "LIKE", "r[0-9]"],
                            ["zone", "MAX_PER", "2"],
                            ["level", "IS", "0.8"],
                            ["rack", "CLUSTER", "r1"],
                        ]
                    ),
                    max_size=3,
                ),
                upgradeStrategy=optional(
                    minimumHealthCapacity=st.floats(0, 1), maximumOverCapacity=st.floats(0, 1)
                ),
                unreachableStrategy=st.just("disabled")
                | st.integers(0, 600).map(
                    lambda s: {"inactiveAfterSeconds": s, "expungeAfterSeconds": s * 2}
                ),
                killSelection=st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
                backoffSeconds=small,
                backoffFactor=st.floats(1, 5),
                maxLaunchDelaySeconds=small,
                fetch=st.lists(
                    st.fixed_dictionaries({"uri": st.just("https://example.com/a.tgz")}), max_size=1
                ),
                dependencies=st.lists(st.just("/other/app"), max_size=1),
                acceptedResourceRoles=st.just(["*"]),
                taskKillGracePeriodSeconds=small,
                user=names,
            )
        )
    )
    return body


@st.composite
def focused_app_bodies(draw: st.DrawFn) -> JSON:
    """Bodies exercising one or two fields at a time, so rare sub-shapes come up often."""
    keys = draw(st.lists(st.sampled_from(sorted(app_members)), min_size=1, max_size=2, unique=True))
    body: JSON = {"id": draw(ids), "cmd": "serve"}
    for key in keys:
        body[key] = draw(app_members[key])
    return body
