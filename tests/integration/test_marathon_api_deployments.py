"""``/v2/deployments`` and ``/v2/queue`` against real processes (reference section 1):
the deployment shape, the 409 lock and ``force``, rollback and forced stop, and the
launch queue with the reasons an app waits.

Apps that cannot finish deploying ask for more cpus than the one agent has; each test
uses its own app ids, so they share a marathon (``tests.v2api.shared_marathon``).
"""

from __future__ import annotations

import pytest

from tests.cluster import Cluster, wait_for
from tests.v2api import DEPLOYMENT_KEYS, V2, JSONDict, shared_marathon, sleeper

TOO_BIG = 1000.0  # cpus: more than the agent has, so the app waits in the queue forever


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> V2:
    return shared_marathon(request, with_agent=True)


def _deployment(api: V2, deployment_id: str) -> JSONDict | None:
    for d in api.get("/v2/deployments").json():
        if d["id"] == deployment_id:
            found: JSONDict = d
            return found
    return None


def test_deployment_shape_lock_force_rollback_and_stop(api: V2) -> None:
    first = api.create(sleeper("stuck", cpus=TOO_BIG, cmd="sleep 1"))
    listed = wait_for(
        lambda: (d := _deployment(api, first)) and d["currentStep"] == 2 and d,
        "the new app's deployment to reach its scale step",
    )
    assert set(listed) == DEPLOYMENT_KEYS
    assert listed["affectedApps"] == ["/stuck"]
    assert listed["affectedPods"] == []
    assert listed["steps"] == [
        {"actions": [{"action": "StartApplication", "app": "/stuck"}]},
        {"actions": [{"action": "ScaleApplication", "app": "/stuck"}]},
    ]
    assert listed["currentActions"] == [
        {"action": "ScaleApplication", "app": "/stuck", "readinessCheckResults": []}
    ]
    assert listed["totalSteps"] == 2
    assert api.app("/stuck")["deployments"] == [{"id": first}]

    # A change to an app in a running deployment: 409 naming the deployment ...
    locked = api.put("/v2/apps/stuck", {"cmd": "sleep 2"})
    assert locked.status_code == 409
    assert locked.json() == {
        "message": "App is locked by one or more deployments. Override with the option "
        f"'?force=true'. View details at '/v2/deployments/{first}'.",
        "deployments": [{"id": first}],
    }
    assert api.app("/stuck")["cmd"] == "sleep 1"
    assert api.post("/v2/apps/stuck/restart").status_code == 409
    # ... while apps it does not touch deploy as usual.
    api.wait_deployment_done(api.create(sleeper("bystander", instances=0)))

    # force=true cancels the running deployment and starts the new one.
    forced = api.put("/v2/apps/stuck", {"cmd": "sleep 2"}, params={"force": "true"})
    assert forced.status_code == 200, forced.text
    second = forced.json()["deploymentId"]
    ids = api.deployment_ids()
    assert first not in ids
    assert second in ids
    assert api.app("/stuck")["cmd"] == "sleep 2"

    # DELETE without force: a rollback deployment to the definition before `second`.
    rolled = api.delete(f"/v2/deployments/{second}")
    assert rolled.status_code == 200, rolled.text
    assert set(rolled.json()) == {"deploymentId", "version"}
    third = rolled.json()["deploymentId"]
    assert rolled.headers["Marathon-Deployment-Id"] == third
    assert second not in api.deployment_ids()
    assert api.app("/stuck")["cmd"] == "sleep 1"

    # With force: stopped where it is, 202 and no body; the app stays as it is.
    stopped = api.delete(f"/v2/deployments/{third}", params={"force": "true"})
    assert stopped.status_code == 202
    assert stopped.content == b""
    assert third not in api.deployment_ids()
    assert api.app("/stuck")["deployments"] == []
    assert api.app("/stuck")["cmd"] == "sleep 1"

    unknown = api.delete("/v2/deployments/no-such-deployment")
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "DeploymentPlan no-such-deployment does not exist"}

    # DELETE of an app defaults to force=true, even with nothing running.
    assert api.delete("/v2/apps/stuck").status_code == 200
    api.wait_gone("/stuck")


def test_rolling_back_a_new_apps_deployment_removes_the_app(api: V2) -> None:
    created = api.create(sleeper("regret", cpus=TOO_BIG))
    r = api.delete(f"/v2/deployments/{created}")
    assert r.status_code == 200, r.text
    assert created not in api.deployment_ids()
    api.wait_gone("/regret")


def test_stopping_an_app_that_never_launched_finishes(cluster: Cluster) -> None:
    # A quiet cluster of its own: any unrelated change would kick the loop and hide it.
    master = cluster.start_master()
    cluster.start_agent(master, containerizers="process")
    api = V2(cluster.start_marathon(master).url)

    api.create(sleeper("never", cpus=TOO_BIG, instances=2))
    wait_for(lambda: api.queue_item("/never"), "/never to wait in the queue")
    r = api.delete("/v2/apps/never")
    assert r.status_code == 200, r.text
    api.wait_deployment_done(r.json()["deploymentId"], timeout=10)
    # What a user sees otherwise: the id stays locked by the stop deployment.
    assert api.post("/v2/apps", sleeper("never", instances=0)).status_code == 201

    created = api.create(sleeper("regret", cpus=TOO_BIG))
    wait_for(lambda: api.queue_item("/regret"), "/regret to wait in the queue")
    rollback = api.delete(f"/v2/deployments/{created}")
    api.wait_deployment_done(rollback.json()["deploymentId"], timeout=10)


def test_force_false_delete_is_locked_like_any_change(api: V2) -> None:
    created = api.create(sleeper("locked-delete", cpus=TOO_BIG))
    r = api.delete("/v2/apps/locked-delete", params={"force": "False"})  # what the client sends
    assert r.status_code == 409
    assert r.json()["deployments"] == [{"id": created}]
    assert api.delete("/v2/apps/locked-delete").status_code == 200
    api.wait_gone("/locked-delete")


def test_queue_shows_what_waits_and_why(api: V2) -> None:
    api.create(sleeper("queued", cpus=TOO_BIG, instances=3))

    def declined() -> JSONDict | None:
        item = api.queue_item("/queued")
        if item is None:
            return None
        reasons = item["processedOffersSummary"]["rejectSummaryLastOffers"]
        return (
            item
            if any(r["reason"] == "InsufficientCpus" and r["declined"] for r in reasons)
            else None
        )

    item = wait_for(declined, "an offer declined for /queued for lack of cpus")
    assert item["count"] == 3
    assert item["delay"] == {"timeLeftSeconds": 0, "overdue": True}
    assert item["since"].endswith("Z")
    assert "role" not in item  # 1.9+ adds it; the Python client rejects it
    assert "lastUnusedOffers" not in item
    summary = item["processedOffersSummary"]
    assert summary["processedOffersCount"] >= 1
    assert summary["unusedOffersCount"] >= 1
    assert item["app"]["id"] == "/queued"
    assert item["app"]["cpus"] == TOO_BIG

    embedded = api.get("/v2/queue", params={"embed": "lastUnusedOffers"}).json()["queue"]
    (mine,) = [i for i in embedded if i["app"]["id"] == "/queued"]
    assert isinstance(mine["lastUnusedOffers"], list)

    reset = api.delete("/v2/queue/queued/delay")
    assert reset.status_code == 204
    assert reset.content == b""

    api.wait_deployment_done(api.create(sleeper("not-queued", instances=0)))
    for app_id in ("not-queued", "no-such-app"):
        r = api.delete(f"/v2/queue/{app_id}/delay")
        assert r.status_code == 404
        assert r.json() == {"message": f"Application /{app_id} not found in tasks queue."}

    assert api.delete("/v2/apps/queued").status_code == 200
    wait_for(lambda: api.queue_item("/queued") is None, "/queued to leave the queue")
