"""Bad input gets the right 4xx, in Marathon's error shapes, with a message that says what
to fix; never a 500 (reference section 0, "Error bodies").

A marathon without agents serves the module (shared with the other contract modules that
need none): nothing here needs a task to run, and no fuzzed command ever does. The last
tests fuzz ``/v2/apps`` and ``/v2/groups`` with hypothesis against that real marathon.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.v2api import V2, JSONDict, shared_marathon, sleeper


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> V2:
    v2 = shared_marathon(request, with_agent=False)
    # An existing app for the update paths (no agent: its one instance waits forever, and
    # updates to it are forced past that deployment).
    v2.create(sleeper("/existing"))
    return v2


def assert_error(r: requests.Response, status: int, message: str | None = None) -> JSONDict:
    """``r`` is a JSON error with ``status`` and a non-empty message (``message``)."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body: JSONDict = r.json()
    assert isinstance(body.get("message"), str), body
    assert body["message"], body
    if message is not None:
        assert body["message"] == message, body
    return body


def detail_errors(body: JSONDict) -> dict[str, list[str]]:
    """``details`` as {path: errors}, checking its shape on the way."""
    assert isinstance(body["details"], list), body
    out: dict[str, list[str]] = {}
    for detail in body["details"]:
        assert set(detail) == {"path", "errors"}, detail
        assert detail["path"].startswith("/"), detail
        assert detail["errors"]
        assert all(isinstance(e, str) and e for e in detail["errors"])
        out[detail["path"]] = detail["errors"]
    return out


# Every route that reads an app or group body, as (method, path, params).
BODY_ROUTES = [
    ("POST", "/v2/apps", {}),
    ("PUT", "/v2/apps/existing", {"force": "true"}),
    ("PATCH", "/v2/apps/existing", {"force": "true"}),
    ("PUT", "/v2/apps", {"force": "true"}),
    ("POST", "/v2/groups", {}),
    ("PUT", "/v2/groups/somegroup", {}),
    ("POST", "/v2/tasks/delete", {}),
]


# ---------------------------------------------------------------------------- not JSON


@pytest.mark.parametrize(("method", "path", "params"), BODY_ROUTES)
@pytest.mark.parametrize("raw", [b'{"id": "x",', b"{'id': 'x'}", b"\xff\xfe", b"NaN", b"[1,]"])
def test_malformed_json_is_400_with_the_parser_text(
    api: V2, method: str, path: str, params: dict[str, str], raw: bytes
) -> None:
    body = assert_error(api.request(method, path, params=params, data=raw), 400, "Invalid JSON")
    assert isinstance(body["details"], str)
    assert body["details"]


@pytest.mark.parametrize(("method", "path", "params"), BODY_ROUTES)
@pytest.mark.parametrize("raw", [b"", b"  \n"])
def test_empty_body_is_400(
    api: V2, method: str, path: str, params: dict[str, str], raw: bytes
) -> None:
    body = assert_error(
        api.request(method, path, params=params, data=raw),
        400,
        "Please specify data in JSON format",
    )
    assert isinstance(body["details"], str)


@pytest.mark.parametrize(("method", "path", "params"), BODY_ROUTES)
def test_a_10mb_body_is_413_naming_the_limit(
    api: V2, method: str, path: str, params: dict[str, str]
) -> None:
    huge = json.dumps({"id": "/huge", "cmd": "x" * (10 * 1024 * 1024)})
    body = assert_error(api.request(method, path, params=params, data=huge), 413)
    assert "at most 1048576" in body["message"], body
    assert api.get("/v2/apps/huge").status_code == 404


# ---------------------------------------------------------------------------- shapes


def test_wrong_types_are_422_with_play_codes_and_paths(api: V2) -> None:
    r = api.post(
        "/v2/apps",
        {
            "id": 5,
            "cmd": ["sleep"],
            "cpus": "lots",
            "instances": 1.5,
            "env": {"A": 1},
            "labels": "x",
            "container": {"type": "DOCKER", "docker": {"image": 7}},
            "constraints": "hostname:UNIQUE",
            "killSelection": "RANDOM",
        },
    )
    body = assert_error(r, 422, "Invalid JSON")
    errors = detail_errors(body)
    assert errors["/id"] == ["error.expected.jsstring"]
    assert errors["/cmd"] == ["error.expected.jsstring"]
    assert errors["/cpus"] == ["error.expected.jsnumber"]
    assert errors["/container/docker/image"] == ["error.expected.jsstring"]
    assert errors["/labels"] == ["error.expected.jsobject"]
    assert errors["/constraints"] == ["error.expected.jsarray"]
    for path in ("/instances", "/env/A", "/killSelection"):
        assert path in errors, (path, errors)


@pytest.mark.parametrize("body", [[], None, "app", 3, True])
def test_a_body_that_is_not_an_object_is_422(api: V2, body: Any) -> None:
    r = api.request("POST", "/v2/apps", data=json.dumps(body))
    errors = detail_errors(assert_error(r, 422, "Invalid JSON"))
    assert errors == {"/": ["error.expected.jsobject"]}


def test_put_many_needs_an_array(api: V2) -> None:
    r = api.put("/v2/apps", sleeper("/not-an-array"), params={"force": "true"})
    assert r.status_code == 422, r.text
    assert r.json()["message"]


@pytest.mark.parametrize(
    ("fields", "path", "code"),
    [
        ({"instances": -1}, "/instances", "error.min"),
        ({"cpus": 0}, "/cpus", "error.min"),
        ({"mem": -5}, "/mem", "error.min"),
        ({"backoffFactor": 0.5}, "/backoffFactor", "error.min"),
        ({"upgradeStrategy": {"minimumHealthCapacity": 1.5}}, None, None),
    ],
)
def test_numbers_out_of_range_are_422(
    api: V2, fields: JSONDict, path: str | None, code: str | None
) -> None:
    r = api.post("/v2/apps", sleeper("/out-of-range", **fields))
    body = assert_error(r, 422)
    errors = detail_errors(body)
    if path is not None:
        assert code in errors[path], errors
    else:
        assert any("minimumHealthCapacity" in p for p in errors), errors
    assert api.get("/v2/apps/out-of-range").status_code == 404


# ---------------------------------------------------------------------------- semantics


@pytest.mark.parametrize(
    ("app_id", "hint"),
    [
        ("Upper", "lowercase"),
        ("trailing-", "ending with a letter or digit"),
        ("-leading", "starting"),
        ("under_score", "lowercase letters, digits"),
        ("group/restart", "restart"),
        ("group/tasks", "tasks"),
        ("group/versions", "versions"),
        ("/", "root"),
    ],
)
def test_invalid_ids_are_422_on_id(api: V2, app_id: str, hint: str) -> None:
    body = assert_error(api.post("/v2/apps", sleeper(app_id)), 422, "Object is not valid")
    errors = detail_errors(body)
    assert list(errors) == ["/id"], errors
    assert any(hint in e for e in errors["/id"]), errors


@pytest.mark.parametrize(
    "fields",
    [
        {"cmd": "sleep 1", "args": ["sleep", "1"]},
        {"cmd": None},  # neither cmd nor args nor a container
    ],
)
def test_cmd_and_args_rule_is_422_on_the_whole_object(api: V2, fields: JSONDict) -> None:
    app = {k: v for k, v in {**sleeper("/cmd-args"), **fields}.items() if v is not None}
    errors = detail_errors(assert_error(api.post("/v2/apps", app), 422, "Object is not valid"))
    assert errors == {
        "/": ["AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."]
    }


@pytest.mark.parametrize("docker", [{}, {"image": ""}])
def test_docker_container_without_image_names_the_image_path(api: V2, docker: JSONDict) -> None:
    app = {**sleeper("/no-image"), "container": {"type": "DOCKER", "docker": docker}}
    del app["cmd"]
    errors = detail_errors(assert_error(api.post("/v2/apps", app), 422))
    assert "/container/docker/image" in errors, errors


def test_docker_container_without_docker_object_reports_only_the_image(api: V2) -> None:
    app = {**sleeper("/no-docker"), "container": {"type": "DOCKER"}}
    del app["cmd"]
    errors = detail_errors(assert_error(api.post("/v2/apps", app), 422))
    assert list(errors) == ["/container/docker/image"], errors


def test_unknown_constraint_operator_lists_the_operators(api: V2) -> None:
    app = sleeper("/bad-constraint", constraints=[["hostname", "LIKEE", "a.*"]])
    errors = detail_errors(assert_error(api.post("/v2/apps", app), 422))
    (messages,) = errors.values()
    assert messages == [
        "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, "
        "UNLIKE or IS"
    ]


def test_version_with_other_fields_is_422(api: V2) -> None:
    r = api.put(
        "/v2/apps/existing",
        {"version": "2020-01-01T00:00:00.000Z", "cmd": "sleep 2"},
        params={"force": "true"},
    )
    errors = detail_errors(assert_error(r, 422))
    assert errors == {"/": ["The 'version' field may only be combined with the 'id' field."]}


def test_rollback_to_an_unknown_version_is_404(api: V2) -> None:
    r = api.put(
        "/v2/apps/existing", {"version": "2001-01-01T00:00:00.000Z"}, params={"force": "true"}
    )
    assert_error(r, 404, "App '/existing' does not exist in version 2001-01-01T00:00:00.000Z")


def test_nesting_below_an_app_is_refused(api: V2) -> None:
    child = api.post("/v2/apps", sleeper("/existing/child"))
    errors = detail_errors(assert_error(child, 422, "Object is not valid"))
    assert list(errors) == ["/id"], errors
    group = api.post("/v2/groups", {"id": "/existing"})
    assert_error(group, 409, "An app with id [/existing] already exists.")


def test_legacy_task_ids_are_valid_in_bulk_kills(api: V2) -> None:
    legacy = [
        "existing.1a8ff506-e7bb-11f1-aaf9-02fc00000001",
        "existing.marathon-1a8ff506-e7bb-11f1-aaf9-02fc00000001",
    ]
    r = api.post("/v2/tasks/delete", {"ids": legacy})
    assert r.status_code == 200, r.text
    assert r.json() == {"tasks": []}


# ---------------------------------------------------------------------------- query strings


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v2/apps", {"label": "tier in web"}),
        ("GET", "/v2/apps", {"label": "(("}),
        ("POST", "/v2/apps", {"force": "maybe"}),
        ("DELETE", "/v2/apps/existing", {"force": "perhaps"}),
        ("DELETE", "/v2/apps/existing/tasks", {"scale": "true", "wipe": "true"}),
        ("POST", "/v2/tasks/delete", {"scale": "true", "wipe": "true"}),
    ],
)
def test_bad_query_parameters_are_400(
    api: V2, method: str, path: str, params: dict[str, str]
) -> None:
    body = {"ids": []} if path == "/v2/tasks/delete" else sleeper("/query")
    assert_error(api.request(method, path, body, params=params), 400)
    assert api.get("/v2/apps/query").status_code == 404


# ---------------------------------------------------------------------------- not found


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/apps/no-such-app"),
        ("GET", "/v2/apps//no-such-app"),
        ("PATCH", "/v2/apps/no-such-app"),
        ("DELETE", "/v2/apps/no-such-app"),
        ("POST", "/v2/apps/no-such-app/restart"),
        ("GET", "/v2/apps/no-such-app/tasks"),
        ("DELETE", "/v2/apps/no-such-app/tasks"),
        ("DELETE", "/v2/apps/no-such-app/tasks/no-such-app.instance-x._app.1"),
        ("GET", "/v2/apps/no-such-app/versions"),
    ],
)
def test_unknown_apps_are_404_naming_the_app(api: V2, method: str, path: str) -> None:
    body = sleeper("/ignored") if method == "PATCH" else None
    assert_error(api.request(method, path, body), 404, "App '/no-such-app' does not exist")


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/v2/groups/no-such-group", "Group '/no-such-group' does not exist"),
        ("DELETE", "/v2/groups/no-such-group", "Group '/no-such-group' does not exist"),
        (
            "DELETE",
            "/v2/apps/existing/tasks/existing.instance-nope._app.1",
            "Task 'existing.instance-nope._app.1' does not exist",
        ),
        ("DELETE", "/v2/deployments/nope", "DeploymentPlan nope does not exist"),
        (
            "DELETE",
            "/v2/queue/no-such-app/delay",
            "Application /no-such-app not found in tasks queue.",
        ),
        ("GET", "/v2/nothing-here", "URI not found: /v2/nothing-here"),
        ("GET", "/v3/apps", "URI not found: /v3/apps"),
    ],
)
def test_other_unknowns_are_404(api: V2, method: str, path: str, message: str) -> None:
    assert_error(api.request(method, path), 404, message)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v2/info"),
        ("POST", "/v2/tasks"),
        ("PUT", "/v2/deployments"),
        ("POST", "/v2/apps/existing"),
        ("PUT", "/v2/apps/existing/restart"),
        ("POST", "/v2/apps/existing/versions"),
        ("GET", "/v2/apps/existing/tasks/x"),
        ("DELETE", "/v2/apps/existing/*"),
        ("POST", "/ping"),
    ],
)
def test_wrong_methods_are_405_naming_the_method(api: V2, method: str, path: str) -> None:
    body = assert_error(api.request(method, path, data=b"{}"), 405)
    assert method in body["message"], body


# ---------------------------------------------------------------------------- fuzzing

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

APP_IDS = st.one_of(
    st.text(max_size=20),
    st.from_regex(r"/fuzz/[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True),
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all (one time in five)."""
    return st.one_of(strategy, strategy, strategy, strategy, JSON_VALUES)


def app_bodies(noisy: Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]) -> Any:
    """App-shaped dicts: every field optional, each value drawn through ``noisy``."""
    _maybe = noisy
    _PORT = st.integers(min_value=-2, max_value=70000)
    _CONTAINER = st.fixed_dictionaries(
        {},
        optional={
            "type": _maybe(st.sampled_from(["DOCKER", "MESOS", "docker", "OTHER"])),
            "docker": _maybe(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "image": _maybe(st.sampled_from(["python:3", "", "busybox"])),
                        "network": _maybe(st.sampled_from(["BRIDGE", "HOST", "USER", "NONE"])),
                        "portMappings": _maybe(
                            st.lists(
                                st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "containerPort": _maybe(_PORT),
                                        "hostPort": _maybe(_PORT),
                                        "servicePort": _maybe(_PORT),
                                        "protocol": _maybe(st.sampled_from(["tcp", "udp", "sctp"])),
                                        "name": _maybe(st.text(max_size=5)),
                                    },
                                ),
                                max_size=3,
                            )
                        ),
                        "parameters": _maybe(
                            st.lists(
                                st.fixed_dictionaries({"key": st.text(), "value": st.text()}),
                                max_size=2,
                            )
                        ),
                    },
                )
            ),
            "portMappings": _maybe(
                st.lists(st.fixed_dictionaries({"containerPort": _PORT}), max_size=2)
            ),
            "volumes": _maybe(
                st.lists(
                    st.fixed_dictionaries(
                        {"containerPath": _maybe(st.text(max_size=8))},
                        optional={
                            "hostPath": _maybe(st.text(max_size=8)),
                            "mode": _maybe(st.sampled_from(["RO", "RW", "XX"])),
                            "persistent": _maybe(
                                st.fixed_dictionaries({"size": _maybe(st.integers(-1, 10))})
                            ),
                        },
                    ),
                    max_size=2,
                )
            ),
        },
    )
    _HEALTH_CHECK = st.fixed_dictionaries(
        {},
        optional={
            "protocol": _maybe(st.sampled_from(["HTTP", "TCP", "COMMAND", "MESOS_HTTP", "FTP"])),
            "path": _maybe(st.text(max_size=5)),
            "portIndex": _maybe(st.integers(-1, 3)),
            "port": _maybe(_PORT),
            "command": _maybe(st.fixed_dictionaries({"value": st.text(max_size=8)})),
            "gracePeriodSeconds": _maybe(st.integers(-1, 400)),
            "intervalSeconds": _maybe(st.integers(-1, 100)),
            "timeoutSeconds": _maybe(st.integers(-1, 100)),
            "maxConsecutiveFailures": _maybe(st.integers(-1, 5)),
        },
    )
    return st.fixed_dictionaries(
        {"id": APP_IDS},
        optional={
            "cmd": _maybe(st.text(max_size=20)),
            "args": _maybe(st.lists(st.text(max_size=5), max_size=3)),
            "cpus": _maybe(st.floats(min_value=-1, max_value=8)),
            "mem": _maybe(st.floats(min_value=-1, max_value=4096)),
            "disk": _maybe(st.floats(min_value=-1, max_value=4096)),
            "gpus": _maybe(st.integers(-1, 2)),
            "instances": _maybe(st.integers(-1, 3)),
            "executor": _maybe(st.sampled_from(["", "//cmd", "/usr/bin/x", "bad"])),
            "env": _maybe(
                st.dictionaries(st.text(max_size=5), _maybe(st.text(max_size=5)), max_size=3)
            ),
            "labels": _maybe(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
            "constraints": _maybe(
                st.lists(
                    st.lists(
                        st.sampled_from(
                            ["hostname", "rack", "UNIQUE", "LIKE", "MAX_PER", "GROUP_BY", "x", "2"]
                        ),
                        max_size=4,
                    ),
                    max_size=3,
                )
            ),
            "container": _maybe(_CONTAINER),
            "healthChecks": _maybe(st.lists(_HEALTH_CHECK, max_size=2)),
            "portDefinitions": _maybe(
                st.lists(
                    st.fixed_dictionaries(
                        {}, optional={"port": _maybe(_PORT), "name": st.text(max_size=4)}
                    ),
                    max_size=3,
                )
            ),
            "ports": _maybe(st.lists(_PORT, max_size=3)),
            "requirePorts": _maybe(st.booleans()),
            "networks": _maybe(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "mode": _maybe(
                                st.sampled_from(["host", "container", "container/bridge", "x"])
                            )
                        },
                        optional={"name": st.text(max_size=4)},
                    ),
                    max_size=2,
                )
            ),
            "dependencies": _maybe(st.lists(APP_IDS, max_size=2)),
            "upgradeStrategy": _maybe(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "minimumHealthCapacity": _maybe(st.floats(-1, 2)),
                        "maximumOverCapacity": _maybe(st.floats(-1, 2)),
                    },
                )
            ),
            "unreachableStrategy": _maybe(
                st.one_of(
                    st.just("disabled"),
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "inactiveAfterSeconds": _maybe(st.integers(-1, 100)),
                            "expungeAfterSeconds": _maybe(st.integers(-1, 100)),
                        },
                    ),
                )
            ),
            "killSelection": _maybe(st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST", "x"])),
            "backoffSeconds": _maybe(st.integers(-1, 10)),
            "backoffFactor": _maybe(st.floats(0, 3)),
            "maxLaunchDelaySeconds": _maybe(st.integers(-1, 400)),
            "fetch": _maybe(
                st.lists(st.fixed_dictionaries({"uri": st.text(max_size=10)}), max_size=2)
            ),
            "uris": _maybe(st.lists(st.text(max_size=10), max_size=2)),
            "acceptedResourceRoles": _maybe(
                st.lists(st.sampled_from(["*", "prod", ""]), max_size=2)
            ),
            "role": _maybe(st.sampled_from(["*", "prod", ""])),
            "residency": _maybe(
                st.fixed_dictionaries({}, optional={"taskLostBehavior": st.text(max_size=5)})
            ),
            "secrets": _maybe(
                st.dictionaries(
                    st.text(max_size=4),
                    st.fixed_dictionaries({"source": st.text(max_size=4)}),
                    max_size=2,
                )
            ),
            "readinessChecks": _maybe(
                st.lists(
                    st.fixed_dictionaries({}, optional={"portName": st.text(max_size=4)}),
                    max_size=2,
                )
            ),
            "taskKillGracePeriodSeconds": _maybe(st.integers(-1, 10)),
            "version": _maybe(st.sampled_from(["2020-01-01T00:00:00.000Z", "yesterday"])),
        },
    )


APP_BODIES = st.one_of(app_bodies(lambda s: s), app_bodies(_maybe))

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_handled(r: requests.Response) -> None:
    """Never a 5xx; every 4xx is JSON with a message."""
    assert r.status_code < 500, (r.status_code, r.request.body, r.text)
    if r.status_code >= 400:
        assert_error(r, r.status_code)


@pytest.mark.slow
@FUZZ
@given(body=JSON_VALUES)
def test_fuzz_arbitrary_json_never_5xx(api: V2, body: Any) -> None:
    for method, path, params in BODY_ROUTES:
        assert_handled(api.request(method, path, params=params, data=json.dumps(body)))


@pytest.mark.slow
@FUZZ
@given(body=APP_BODIES)
def test_fuzz_app_shaped_bodies_never_5xx(api: V2, body: JSONDict) -> None:
    assert_handled(api.post("/v2/apps", body))
    assert_handled(api.put("/v2/apps/existing", body, params={"force": "true"}))
    assert_handled(api.put("/v2/apps", [body], params={"force": "true"}))
    assert_handled(api.post("/v2/groups", {"id": "/fuzzgroup", "apps": [body]}))


@pytest.mark.slow
@FUZZ
@given(
    label=st.text(alphabet=st.sampled_from("ab=!,() \\in notin"), max_size=30)
    | st.text(max_size=20),
    other=st.text(max_size=20),
)
def test_fuzz_query_strings_never_5xx(api: V2, label: str, other: str) -> None:
    r = api.get("/v2/apps", params={"label": label, "id": other, "cmd": other, "embed": other})
    assert r.status_code in (200, 400), (label, other, r.text)
    assert_handled(r)
    assert_handled(api.get("/v2/tasks", params={"status": other}))
    assert_handled(api.get("/v2/groups/existing-group", params={"embed": other}))
