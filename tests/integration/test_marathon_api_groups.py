"""``/v2/groups`` against real processes (reference section 1): creation (201), nested
groups, dependency order in the plan, ``scaleBy``, ``PUT`` replacing children, versions,
deletion and dependency cycles. Each test works below its own top-level group, on a
marathon shared with the other contract modules (``tests.v2api.shared_marathon``)."""

from __future__ import annotations

import pytest

from tests.cluster import wait_for
from tests.v2api import V2, JSONDict, shared_marathon, sleeper

GROUP_KEYS = {"id", "apps", "groups", "pods", "dependencies", "version"}


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> V2:
    return shared_marathon(request, with_agent=True)


def _app_ids(group: JSONDict) -> list[str]:
    ids = [a["id"] for a in group["apps"]]
    for child in group["groups"]:
        ids += _app_ids(child)
    return sorted(ids)


def test_post_creates_nested_groups_and_plans_dependencies_in_order(api: V2) -> None:
    body = {
        "id": "shop",
        "apps": [
            # db cannot be placed, so the deployment stays on its step and shows its plan.
            sleeper("db", cpus=1000),
            sleeper("web", dependencies=["db"]),
            sleeper("/shop/api", dependencies=["/shop/db"]),
        ],
        "groups": [{"id": "tools", "apps": [sleeper("cron", instances=0)]}],
    }
    r = api.post("/v2/groups", body)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"{api.url}/v2/groups/shop"
    assert set(r.json()) == {"deploymentId", "version"}
    deployment_id = r.json()["deploymentId"]
    assert r.headers["Marathon-Deployment-Id"] == deployment_id

    (plan,) = [d for d in api.get("/v2/deployments").json() if d["id"] == deployment_id]
    steps = [sorted(a["app"] for a in s["actions"]) for s in plan["steps"]]
    assert steps == [
        ["/shop/api", "/shop/db", "/shop/tools/cron", "/shop/web"],  # StartApplication
        ["/shop/db", "/shop/tools/cron"],  # no dependencies
        ["/shop/api", "/shop/web"],  # depend on db
    ]
    assert {a["action"] for a in plan["steps"][0]["actions"]} == {"StartApplication"}
    wait_for(
        lambda: (
            (d := [x for x in api.get("/v2/deployments").json() if x["id"] == deployment_id])
            and d[0]["currentStep"] == 2
        ),
        "the group deployment to wait on db",
    )

    group = api.get("/v2/groups/shop").json()
    assert set(group) == GROUP_KEYS
    assert group["id"] == "/shop"
    assert _app_ids(group) == ["/shop/api", "/shop/db", "/shop/tools/cron", "/shop/web"]
    assert [g["id"] for g in group["groups"]] == ["/shop/tools"]
    web = next(a for a in group["apps"] if a["id"] == "/shop/web")
    assert web["dependencies"] == ["/shop/db"]

    again = api.post("/v2/groups", {"id": "shop"})
    assert again.status_code == 409
    assert again.json() == {
        "message": "Group /shop is already created. Use PUT to change this group."
    }

    # POST below a group: the body's id is relative to the URL's group.
    nested = api.post("/v2/groups/shop/tools", {"id": "extra", "apps": [sleeper("x", instances=0)]})
    assert nested.status_code == 201, nested.text
    assert nested.headers["Location"] == f"{api.url}/v2/groups/shop/tools/extra"
    assert api.app("/shop/tools/extra/x")["instances"] == 0

    # The deployment waiting on db locks the group (DELETE defaults to force=false here).
    locked = api.delete("/v2/groups/shop")
    assert locked.status_code == 409, locked.text
    assert {"id": deployment_id} in locked.json()["deployments"]
    gone = api.delete("/v2/groups/shop", params={"force": "true"})
    assert gone.status_code == 200, gone.text
    assert set(gone.json()) == {"deploymentId", "version"}
    assert api.get("/v2/groups/shop").status_code == 404
    for app_id in ("/shop/db", "/shop/web", "/shop/tools/cron", "/shop/tools/extra/x"):
        assert api.get(f"/v2/apps{app_id}").status_code == 404


def test_a_post_to_the_root_with_an_id_does_not_touch_other_apps(api: V2) -> None:
    api.wait_deployment_done(api.create(sleeper("/groups-bystander/app", instances=0)))
    r = api.post("/v2/groups", {"id": "lonely", "apps": [sleeper("a", instances=0)]})
    assert r.status_code == 201, r.text
    assert api.app("/lonely/a")["id"] == "/lonely/a"
    assert api.get("/v2/apps/a").status_code == 404
    assert api.app("/groups-bystander/app")["instances"] == 0


def test_scale_by_replace_children_versions_and_delete(api: V2) -> None:
    r = api.put(
        "/v2/groups/scaled",
        {"apps": [sleeper("one"), sleeper("two", instances=0)], "groups": [{"id": "inner"}]},
    )
    assert r.status_code == 200, r.text  # PUT creates (or updates) the URL's group
    api.wait_deployment_done(r.json()["deploymentId"])
    created_version = r.json()["version"]

    scaled = api.put("/v2/groups/scaled", {"scaleBy": 2})
    assert scaled.status_code == 200, scaled.text
    api.wait_deployment_done(scaled.json()["deploymentId"])
    assert api.app("/scaled/one")["instances"] == 2
    assert api.app("/scaled/two")["instances"] == 0
    api.wait_running("/scaled/one", 2)

    versions = api.get("/v2/groups/scaled/versions")
    assert versions.status_code == 200
    assert created_version in versions.json()
    assert versions.json() == sorted(versions.json(), reverse=True)
    old = api.get(f"/v2/groups/scaled/versions/{created_version}")
    assert old.status_code == 200, old.text
    assert old.json()["id"] == "/scaled"
    assert {a["id"]: a["instances"] for a in old.json()["apps"]} == {
        "/scaled/one": 1,
        "/scaled/two": 0,
    }

    # {"version": ts}: the group as it was then.
    rollback = api.put("/v2/groups/scaled", {"version": created_version})
    assert rollback.status_code == 200, rollback.text
    api.wait_deployment_done(rollback.json()["deploymentId"])
    assert api.app("/scaled/one")["instances"] == 1
    api.wait_running("/scaled/one", 1)

    # apps given: they replace the group's apps; groups omitted: kept.
    replaced = api.put("/v2/groups/scaled", {"apps": [sleeper("three", instances=0)]})
    assert replaced.status_code == 200, replaced.text
    api.wait_deployment_done(replaced.json()["deploymentId"])
    group = api.get("/v2/groups/scaled").json()
    assert _app_ids(group) == ["/scaled/three"]
    assert [g["id"] for g in group["groups"]] == ["/scaled/inner"]
    wait_for(
        lambda: (
            not [t for t in api.get("/v2/tasks").json()["tasks"] if t["appId"] == "/scaled/one"]
        ),
        "the removed app's tasks to stop",
    )

    # dryRun: the plan, and nothing deployed.
    dry = api.put(
        "/v2/groups/scaled", {"apps": [sleeper("four", instances=0)]}, params={"dryRun": "true"}
    )
    assert dry.status_code == 200, dry.text
    actions = {(a["action"], a["app"]) for s in dry.json()["steps"] for a in s["actions"]}
    assert ("StopApplication", "/scaled/three") in actions
    assert ("StartApplication", "/scaled/four") in actions
    assert api.get("/v2/apps/scaled/four").status_code == 404

    deleted = api.delete("/v2/groups/scaled")
    assert deleted.status_code == 200, deleted.text
    assert api.get("/v2/groups/scaled").status_code == 404
    assert api.delete("/v2/groups/scaled").status_code == 404


def test_root_group_shape(api: V2) -> None:
    for path in ("/v2/groups", "/v2/groups/"):
        root = api.get(path)
        assert root.status_code == 200
        assert set(root.json()) == GROUP_KEYS  # no enforceRole: the Python client rejects it
        assert root.json()["id"] == "/"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "id": "cyclic",
                "apps": [
                    sleeper("a", dependencies=["/cyclic/b"]),
                    sleeper("b", dependencies=["/cyclic/a"]),
                ],
            },
            "Dependency graph has cyclic dependencies.",
        ),
        (
            {"id": "outside", "apps": [sleeper("/elsewhere/a")]},
            "Identifier is not child of '/outside'",
        ),
    ],
)
def test_invalid_groups_are_refused_with_422(api: V2, body: JSONDict, message: str) -> None:
    r = api.post("/v2/groups", body)
    assert r.status_code == 422, r.text
    assert r.json()["message"] == "Object is not valid"
    errors = [e for d in r.json()["details"] for e in d["errors"]]
    assert any(message in e for e in errors), errors
    assert api.get(f"/v2/groups/{body['id']}").status_code == 404


def test_group_versions_keep_apps_deleted_since(api: V2) -> None:
    r = api.put("/v2/groups/history", {"apps": [sleeper("gone", instances=0)]})
    assert r.status_code == 200, r.text
    api.wait_deployment_done(r.json()["deploymentId"])
    then = r.json()["version"]
    deleted = api.delete("/v2/apps/history/gone")
    api.wait_deployment_done(deleted.json()["deploymentId"])

    old = api.get(f"/v2/groups/history/versions/{then}")
    assert old.status_code == 200, old.text
    assert _app_ids(old.json()) == ["/history/gone"]
    # ... so a rollback brings it back.
    back = api.put("/v2/groups/history", {"version": then})
    assert back.status_code == 200, back.text
    assert api.get("/v2/apps/history/gone").status_code == 200
