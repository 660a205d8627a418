"""The ``/v2/apps`` and ``/v2/tasks`` contract (reference marathon.md sections 0-2) against
real processes: status codes, headers and bodies as Marathon 1.10 answers them.

The marathon (one process-containerizer agent behind it) is shared with the other contract
modules of the pytest process (``tests.v2api.shared_marathon``); every test works on app
ids of its own, so the tests do not disturb each other.
"""

from __future__ import annotations

import pytest

from tests.cluster import wait_for
from tests.v2api import NO_CACHE, TASK_KEYS, V2, JSONDict, shared_marathon, sleeper


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> V2:
    return shared_marathon(request, with_agent=True)


# ---------------------------------------------------------------------------- create


def test_post_answers_201_with_location_deployment_header_and_app_info(api: V2) -> None:
    r = api.post("/v2/apps", sleeper("post-me", labels={"team": "a"}))
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Location"] == f"{api.url}/v2/apps/post-me"
    deployment_id = r.headers["Marathon-Deployment-Id"]
    body = r.json()
    # The normalised app (relative id made absolute), zero counts, the new deployment,
    # and no versionInfo yet (reference 2.4).
    assert body["id"] == "/post-me"
    assert body["labels"] == {"team": "a"}
    assert body["deployments"] == [{"id": deployment_id}]
    assert {k: body[k] for k in ("tasksStaged", "tasksRunning", "tasksHealthy")} == {
        "tasksStaged": 0,
        "tasksRunning": 0,
        "tasksHealthy": 0,
    }
    assert body["tasksUnhealthy"] == 0
    assert "versionInfo" not in body
    assert body["version"].endswith("Z")

    app = api.wait_running("/post-me", 1)
    assert app["versionInfo"] == {
        "lastScalingAt": body["version"],
        "lastConfigChangeAt": body["version"],
    }

    again = api.post("/v2/apps", sleeper("/post-me"))
    assert again.status_code == 409
    assert again.json() == {"message": "An app with id [/post-me] already exists."}


def test_every_reply_carries_no_cache_and_leader_headers(api: V2) -> None:
    for r in (
        api.get("/v2/apps"),
        api.get("/v2/apps/no-such-app"),
        api.get("/v2/info"),
        api.post("/v2/apps", data="{"),
        api.get("/v2/no-such-route"),
    ):
        for name, value in NO_CACHE.items():
            assert r.headers[name] == value, (r.url, name)
        assert r.headers["X-Marathon-Leader"] == api.url, r.url


def test_put_creates_with_201_and_updates_with_200(api: V2) -> None:
    created = api.put("/v2/apps/put-me", sleeper("put-me", instances=0))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{api.url}/v2/apps/put-me"
    body = created.json()
    assert set(body) == {"deploymentId", "version"}
    assert created.headers["Marathon-Deployment-Id"] == body["deploymentId"]
    api.wait_deployment_done(body["deploymentId"])

    # The Python client's path (`/v2/apps/` + an id that starts with "/").
    updated = api.put("/v2/apps//put-me", {"cmd": "sleep 7"})
    assert updated.status_code == 200, updated.text
    assert "Location" not in updated.headers
    assert updated.headers["Marathon-Deployment-Id"] == updated.json()["deploymentId"]
    assert api.app("/put-me")["cmd"] == "sleep 7"


def test_put_partial_update_keeps_omitted_fields_and_replaces_given_ones_whole(
    api: V2,
) -> None:
    app = sleeper("partial", instances=0, cpus=0.02, env={"A": "1"}, labels={"l": "x"})
    api.wait_deployment_done(api.create(app))

    r = api.put("/v2/apps/partial", {"cmd": "sleep 8"})
    assert r.status_code == 200, r.text
    api.wait_deployment_done(r.json()["deploymentId"])
    got = api.app("/partial")
    assert (got["cmd"], got["cpus"], got["env"], got["labels"]) == (
        "sleep 8",
        0.02,
        {"A": "1"},
        {"l": "x"},
    )

    # No deep merge: a given map replaces the old one.
    r = api.put("/v2/apps/partial", {"env": {"B": "2"}})
    api.wait_deployment_done(r.json()["deploymentId"])
    assert api.app("/partial")["env"] == {"B": "2"}

    # partialUpdate=false: the body is the whole definition; omitted fields reset.
    r = api.put(
        "/v2/apps/partial",
        {"cmd": "sleep 9", "instances": 0},
        params={"partialUpdate": "false"},
    )
    assert r.status_code == 200, r.text
    api.wait_deployment_done(r.json()["deploymentId"])
    got = api.app("/partial")
    assert (got["cmd"], got["cpus"], got["mem"], got["labels"]) == ("sleep 9", 1, 128, {})
    assert "env" not in got or got["env"] == {}


def test_patch_updates_existing_apps_only(api: V2) -> None:
    missing = api.patch("/v2/apps/patch-missing", {"cmd": "sleep 1"})
    assert missing.status_code == 404
    assert missing.json() == {"message": "App '/patch-missing' does not exist"}
    assert api.get("/v2/apps/patch-missing").status_code == 404  # never created

    api.wait_deployment_done(api.create(sleeper("patch-me", instances=0)))
    r = api.patch("/v2/apps/patch-me", {"labels": {"patched": "yes"}})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"deploymentId", "version"}
    got = api.app("/patch-me")
    assert (got["labels"], got["cmd"]) == ({"patched": "yes"}, "sleep 3600")


def test_putting_back_what_get_returned_changes_nothing(api: V2) -> None:
    # With the default port definition, so the assigned service port goes round too.
    app = sleeper("echo-back")
    del app["portDefinitions"]
    api.create(app)
    before = api.wait_running("/echo-back", 1)
    assert before["portDefinitions"][0]["port"] >= 10000

    # Read-only fields (tasks, counts, deployments, versionInfo) are ignored; only
    # "version" must go, or the body would be a rollback mixed with other fields.
    echoed = {k: v for k, v in before.items() if k != "version"}
    r = api.put("/v2/apps/echo-back", echoed)
    assert r.status_code == 200, r.text
    api.wait_deployment_done(r.json()["deploymentId"])
    after = api.wait_running("/echo-back", 1)
    assert after["version"] == before["version"]
    assert after["versionInfo"] == before["versionInfo"]
    assert [t["id"] for t in after["tasks"]] == [t["id"] for t in before["tasks"]]
    assert api.get("/v2/apps/echo-back/versions").json()["versions"] == [before["version"]]


def test_put_and_patch_many_apps_in_one_deployment(api: V2) -> None:
    api.wait_deployment_done(api.create(sleeper("many/old", instances=0, labels={"k": "v"})))
    r = api.put(
        "/v2/apps",
        [sleeper("/many/new", instances=0), {"id": "/many/old", "cmd": "sleep 5"}],
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"deploymentId", "version"}
    assert r.headers["Marathon-Deployment-Id"] == r.json()["deploymentId"]
    api.wait_deployment_done(r.json()["deploymentId"])
    assert api.app("/many/new")["instances"] == 0
    old = api.app("/many/old")
    assert (old["cmd"], old["labels"]) == ("sleep 5", {"k": "v"})  # partial by default

    # PATCH never creates: every id must exist.
    missing = api.patch("/v2/apps", [{"id": "/many/old"}, {"id": "/many/absent", "cmd": "x y"}])
    assert missing.status_code == 404
    assert missing.json() == {"message": "App '/many/absent' does not exist"}
    patched = api.patch("/v2/apps", [{"id": "/many/new", "labels": {"p": "1"}}])
    assert patched.status_code == 200, patched.text
    assert api.app("/many/new")["labels"] == {"p": "1"}


def test_versions_rollback_and_version_only_rule(api: V2) -> None:
    first = api.post("/v2/apps", sleeper("versioned", instances=0, cmd="sleep 11"))
    assert first.status_code == 201
    v1 = first.json()["version"]
    api.wait_deployment_done(first.headers["Marathon-Deployment-Id"])
    versions = api.get("/v2/apps/versioned/versions").json()
    assert versions == {"versions": [v1]}

    r = api.put("/v2/apps/versioned", {"cmd": "sleep 22"})
    api.wait_deployment_done(r.json()["deploymentId"])
    v2 = r.json()["version"]
    assert api.get("/v2/apps/versioned/versions").json()["versions"] == [v2, v1]

    # A stored version is the bare app: no wrapper, no counts.
    old = api.get(f"/v2/apps/versioned/versions/{v1}")
    assert old.status_code == 200
    assert old.json()["cmd"] == "sleep 11"
    assert old.json()["version"] == v1
    assert "app" not in old.json()
    assert "tasksRunning" not in old.json()

    missing = api.get("/v2/apps/versioned/versions/2001-01-01T00:00:00.000Z")
    assert missing.status_code == 404
    assert missing.json()["message"] == (
        "App '/versioned' does not exist in version 2001-01-01T00:00:00.000Z"
    )

    # "version" plus anything but "id" is not a rollback.
    mixed = api.put("/v2/apps/versioned", {"version": v1, "cmd": "sleep 33"})
    assert mixed.status_code == 422
    assert "The 'version' field may only be combined with the 'id' field." in mixed.text
    assert api.app("/versioned")["cmd"] == "sleep 22"

    rollback = api.put("/v2/apps/versioned", {"id": "/versioned", "version": v1})
    assert rollback.status_code == 200, rollback.text
    api.wait_deployment_done(rollback.json()["deploymentId"])
    got = api.app("/versioned")
    assert got["cmd"] == "sleep 11"
    assert got["version"] == rollback.json()["version"]  # a rollback is a new version
    assert len(api.get("/v2/apps/versioned/versions").json()["versions"]) == 3


# ---------------------------------------------------------------------------- reading


@pytest.fixture(scope="module")
def filter_apps(api: V2) -> list[str]:
    apps = [
        sleeper("/filt/alpha", instances=0, cmd="sleep 101 # ALPHA", labels={"ft": "web"}),
        sleeper("/filt/beta", instances=0, cmd="sleep 102 # beta", labels={"ft": "api"}),
        sleeper("/filt/gamma", instances=0, cmd="sleep 103 # gamma", labels={"ft": "db"}),
        sleeper("/filt/delta", instances=0, cmd="sleep 104 # delta"),
    ]
    for app in apps:
        api.wait_deployment_done(api.create(app))
    return [a["id"] for a in apps]


def _listed(api: V2, **params: str) -> list[str]:
    r = api.get("/v2/apps", params=params)
    assert r.status_code == 200, r.text
    return sorted(a["id"] for a in r.json()["apps"] if a["id"].startswith("/filt/"))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"id": "FILT/AL"}, ["/filt/alpha"]),  # case-insensitive substring of the id
        ({"cmd": "alpha"}, ["/filt/alpha"]),  # ... and of the cmd
        ({"cmd": "# "}, ["/filt/alpha", "/filt/beta", "/filt/delta", "/filt/gamma"]),
        ({"label": "ft"}, ["/filt/alpha", "/filt/beta", "/filt/gamma"]),
        ({"label": "ft==web"}, ["/filt/alpha"]),
        ({"label": "ft in (web, db)"}, ["/filt/alpha", "/filt/gamma"]),
        ({"label": "ft,ft notin (web,db)"}, ["/filt/beta"]),
        ({"label": "ft,ft!=api"}, ["/filt/alpha", "/filt/gamma"]),
        ({"id": "filt", "cmd": "beta", "label": "ft==api"}, ["/filt/beta"]),
    ],
)
def test_list_filters(
    api: V2, filter_apps: list[str], params: dict[str, str], expected: list[str]
) -> None:
    assert _listed(api, **params) == expected


def test_group_star_lists_every_app_below_a_group(api: V2, filter_apps: list[str]) -> None:
    r = api.get("/v2/apps/filt/*")
    assert r.status_code == 200, r.text
    assert sorted(a["id"] for a in r.json()["*"]) == sorted(filter_apps)
    assert api.get("/v2/apps/no-such-group/*").status_code == 404


@pytest.fixture(scope="module")
def running_app(api: V2) -> JSONDict:
    """Two running sleepers, not changed by the tests that use them."""
    api.create(sleeper("/readers/app", instances=2, labels={"role": "reader"}))
    return api.wait_running("/readers/app", 2)


def test_embed_variants(api: V2, running_app: JSONDict) -> None:
    def listed(*embed: str) -> JSONDict:
        r = api.get("/v2/apps", params={"id": "/readers/app", "embed": list(embed)})
        assert r.status_code == 200, r.text
        (app,) = r.json()["apps"]
        return app  # type: ignore[no-any-return]

    plain = listed()
    assert "tasks" not in plain
    assert plain["tasksRunning"] == 2  # counts always
    assert plain["deployments"] == []  # deployments always
    for embed in ("apps.tasks", "app.tasks", "tasks", "apps.failures", "group.apps.tasks"):
        assert len(listed(embed)["tasks"]) == 2, embed
    assert "tasks" not in listed("apps.counts", "apps.deployments")

    # One app: tasks always.
    single = api.get("/v2/apps/readers/app").json()["app"]
    assert len(single["tasks"]) == 2
    assert single["deployments"] == []


def test_tasks_listing_shapes_and_status_filter(api: V2, running_app: JSONDict) -> None:
    r = api.get("/v2/apps/readers/app/tasks")
    assert r.status_code == 200
    tasks = r.json()["tasks"]
    assert len(tasks) == 2
    for task in tasks:
        assert set(task) <= TASK_KEYS, set(task) - TASK_KEYS
        assert task["appId"] == "/readers/app"
        assert task["state"] == "TASK_RUNNING"
        assert task["id"].startswith("readers_app.instance-")
        assert task["id"].endswith("._app.1")
        assert task["version"] == running_app["version"]
        assert task["stagedAt"].endswith("Z")
        assert task["startedAt"].endswith("Z")
    ids = {t["id"] for t in tasks}

    for params in ({"status": "running"}, {"status[]": "running"}, {}):
        everything = api.get("/v2/tasks", params=params).json()["tasks"]
        assert ids <= {t["id"] for t in everything}, params
        assert all("servicePorts" in t for t in everything)
    staging = api.get("/v2/tasks", params={"status": "staging"}).json()["tasks"]
    assert ids.isdisjoint(t["id"] for t in staging)

    assert [t["id"] for t in api.get("/v2/apps/readers/*/tasks").json()["tasks"]] != []


def test_last_task_failure_is_shown_for_a_failing_app(api: V2) -> None:
    api.create(sleeper("failing", cmd="exit 3", backoffSeconds=60))

    def failure() -> JSONDict | None:
        app = api.app("/failing")
        found: JSONDict | None = app.get("lastTaskFailure")
        return found

    found = wait_for(failure, "a lastTaskFailure on /failing")
    assert found["appId"] == "/failing"
    assert found["state"] == "TASK_FAILED"
    assert found["taskId"].startswith("failing.instance-")
    assert found["timestamp"].endswith("Z")
    listed = api.get("/v2/apps", params={"id": "/failing", "embed": "apps.lastTaskFailure"})
    assert listed.json()["apps"][0]["lastTaskFailure"]["taskId"] == found["taskId"]
    assert "lastTaskFailure" not in api.get("/v2/apps", params={"id": "/failing"}).json()["apps"][0]
    assert api.delete("/v2/apps/failing").status_code == 200


# ---------------------------------------------------------------------------- killing


def _task_ids(api: V2, app_id: str) -> set[str]:
    return {t["id"] for t in api.get(f"/v2/apps{app_id}/tasks").json()["tasks"]}


def _instance(task_id: str) -> str:
    return task_id.rsplit("._app.", 1)[0]


def test_kill_one_task_relaunches_it_and_scale_lowers_instances(api: V2) -> None:
    api.create(sleeper("killone", instances=2))
    api.wait_running("/killone", 2)
    before = _task_ids(api, "/killone")
    victim = sorted(before)[0]

    unknown = api.delete("/v2/apps/killone/tasks/killone.instance-nope._app.1")
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Task 'killone.instance-nope._app.1' does not exist"}

    r = api.delete(f"/v2/apps/killone/tasks/{victim}")
    assert r.status_code == 200, r.text
    assert r.json()["task"]["id"] == victim
    # Without scale the instance keeps its goal: relaunched under the same instance id.
    wait_for(lambda: victim not in _task_ids(api, "/killone"), "the killed task to go")
    after = {t["id"] for t in api.wait_running("/killone", 2)["tasks"]}
    assert {_instance(t) for t in after} == {_instance(t) for t in before}
    assert _instance(victim) + "._app.2" in after

    survivor = sorted(_task_ids(api, "/killone"))[0]
    scaled = api.delete(f"/v2/apps/killone/tasks/{survivor}", params={"scale": "true"})
    assert scaled.status_code == 200, scaled.text
    assert set(scaled.json()) == {"deploymentId", "version"}
    api.wait_deployment_done(scaled.json()["deploymentId"])
    assert api.app("/killone")["instances"] == 1
    assert survivor not in _task_ids(api, "/killone")
    api.wait_running("/killone", 1)


def test_kill_all_tasks_by_host_and_with_scale(api: V2) -> None:
    api.create(sleeper("killall", instances=2))
    app = api.wait_running("/killall", 2)
    host = app["tasks"][0]["host"]

    both = api.delete("/v2/apps/killall/tasks", params={"scale": "true", "wipe": "true"})
    assert both.status_code == 400
    assert both.json() == {"message": "You cannot use scale and wipe at the same time."}

    elsewhere = api.delete("/v2/apps/killall/tasks", params={"host": "no-such-host"})
    assert elsewhere.status_code == 200
    assert elsewhere.json() == {"tasks": []}

    killed = api.delete("/v2/apps/killall/tasks", params={"host": host})
    assert killed.status_code == 200, killed.text
    assert {t["id"] for t in killed.json()["tasks"]} == {t["id"] for t in app["tasks"]}
    wait_for(
        lambda: _task_ids(api, "/killall").isdisjoint(t["id"] for t in app["tasks"]),
        "replacements for every killed task",
    )
    api.wait_running("/killall", 2)

    scaled = api.delete("/v2/apps/killall/tasks", params={"host": "*", "scale": "true"})
    assert scaled.status_code == 200, scaled.text
    api.wait_deployment_done(scaled.json()["deploymentId"])
    assert api.app("/killall")["instances"] == 0
    wait_for(lambda: not _task_ids(api, "/killall"), "every task of /killall to go")


def test_post_tasks_delete(api: V2) -> None:
    api.create(sleeper("bulkkill", instances=3))
    api.wait_running("/bulkkill", 3)
    ids = sorted(_task_ids(api, "/bulkkill"))

    # A well-formed id of a task nobody knows is ignored.
    unknown = api.post("/v2/tasks/delete", {"ids": ["gone.instance-1a8ff506-e7bb-11f1._app.1"]})
    assert unknown.status_code == 200, unknown.text
    assert unknown.json() == {"tasks": []}
    bad = api.post("/v2/tasks/delete", {"ids": ["not a task id"]})
    assert bad.status_code == 400
    assert bad.json() == {"message": "Invalid task id 'not a task id'"}
    both = api.post("/v2/tasks/delete", {"ids": ids[:1]}, params={"scale": "true", "wipe": "true"})
    assert both.status_code == 400

    killed = api.post("/v2/tasks/delete", {"ids": ids[:1]})
    assert killed.status_code == 200, killed.text
    assert [t["id"] for t in killed.json()["tasks"]] == ids[:1]
    wait_for(lambda: ids[0] not in _task_ids(api, "/bulkkill"), "the killed task to go")
    api.wait_running("/bulkkill", 3)

    current = sorted(_task_ids(api, "/bulkkill"))
    scaled = api.post("/v2/tasks/delete", {"ids": current[:2]}, params={"scale": "true"})
    assert scaled.status_code == 200, scaled.text
    assert set(scaled.json()) == {"deploymentId", "version"}
    api.wait_deployment_done(scaled.json()["deploymentId"])
    assert api.app("/bulkkill")["instances"] == 1
    assert _task_ids(api, "/bulkkill") == set(current[2:])


def test_restart_and_delete(api: V2) -> None:
    api.create(sleeper("restart-me"))
    before = api.wait_running("/restart-me", 1)

    r = api.post("/v2/apps/restart-me/restart")
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"deploymentId", "version"}
    api.wait_deployment_done(r.json()["deploymentId"])
    after = api.wait_running("/restart-me", 1)
    assert after["tasks"][0]["id"] != before["tasks"][0]["id"]
    assert after["version"] == r.json()["version"]
    assert after["versionInfo"]["lastConfigChangeAt"] == r.json()["version"]

    missing = api.post("/v2/apps/no-such-app/restart")
    assert missing.status_code == 404

    gone = api.delete("/v2/apps/restart-me")
    assert gone.status_code == 200, gone.text
    assert gone.headers["Marathon-Deployment-Id"] == gone.json()["deploymentId"]
    api.wait_gone("/restart-me")
    api.wait_deployment_done(gone.json()["deploymentId"])
    assert api.get("/v2/apps/restart-me/versions").status_code == 404
