"""A thin ``requests`` client for Berth's Marathon ``/v2`` API, for the contract tests.

Every call returns the raw ``requests.Response`` (tests assert status codes, headers and
bodies themselves); the ``wait_*`` helpers poll a condition with a deadline, never sleep
for a fixed time.

    >>> api = V2("http://127.0.0.1:8080")  # doctest: +SKIP
    >>> api.post("/v2/apps", sleeper("/web")).status_code  # doctest: +SKIP
    201

``shared_marathon`` gives the contract-test modules of one pytest process one marathon to
share (starting a cluster costs seconds; the modules use disjoint app ids).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.cluster import Cluster, task_port_range, wait_for

JSONDict = dict[str, Any]

NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
}

# The keys a task may carry (reference 2.5); the Python client rejects any other.
TASK_KEYS = frozenset(
    {
        "id", "appId", "host", "slaveId", "state", "stagedAt", "startedAt", "version",
        "ports", "servicePorts", "ipAddresses", "healthCheckResults", "localVolumes",
        "region", "zone", "role",
    }
)  # fmt: skip

# The keys of one /v2/deployments item: exactly these eight (reference section 1).
DEPLOYMENT_KEYS = frozenset(
    {
        "id", "version", "affectedApps", "affectedPods", "steps", "currentActions",
        "currentStep", "totalSteps",
    }
)  # fmt: skip


def sleeper(app_id: str, **fields: Any) -> JSONDict:
    """A small app that runs ``sleep`` (process containerizer), with no host ports.

    >>> sleeper("/a", instances=2)["instances"]
    2
    """
    app: JSONDict = {
        "id": app_id,
        "cmd": "sleep 3600",
        "cpus": 0.01,
        "mem": 8,
        "instances": 1,
        "portDefinitions": [],
    }
    app.update(fields)
    return app


@dataclass
class V2:
    """Raw HTTP against one marathon; ``path`` starts with ``/``."""

    url: str
    timeout: float = 10.0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        data: str | bytes | None = None,
    ) -> requests.Response:
        if body is not None:
            data = json.dumps(body)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return requests.request(
            method,
            self.url + path,
            params=params,
            data=data,
            headers=all_headers,
            timeout=self.timeout,
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # ------------------------------------------------------------------ reads

    def app(self, app_id: str) -> JSONDict:
        r = self.get(f"/v2/apps{app_id}")
        assert r.status_code == 200, r.text
        app: JSONDict = r.json()["app"]
        return app

    def deployment_ids(self) -> set[str]:
        r = self.get("/v2/deployments")
        assert r.status_code == 200, r.text
        return {d["id"] for d in r.json()}

    def queue_item(self, app_id: str) -> JSONDict | None:
        r = self.get("/v2/queue")
        assert r.status_code == 200, r.text
        for item in r.json()["queue"]:
            if item["app"]["id"] == app_id:
                found: JSONDict = item
                return found
        return None

    # ------------------------------------------------------------------ writes

    def create(self, app: JSONDict) -> str:
        """POST an app; return its deployment id."""
        r = self.post("/v2/apps", app)
        assert r.status_code == 201, r.text
        return str(r.headers["Marathon-Deployment-Id"])

    # ------------------------------------------------------------------ waits

    def wait_deployment_done(self, deployment_id: str, timeout: float = 60) -> None:
        wait_for(
            lambda: deployment_id not in self.deployment_ids(),
            f"deployment {deployment_id} to finish",
            timeout,
        )

    def wait_running(self, app_id: str, count: int, timeout: float = 60) -> JSONDict:
        """Wait until ``app_id`` has ``count`` running tasks and no deployment; return it."""

        def settled() -> JSONDict | None:
            app = self.app(app_id)
            running = [t for t in app["tasks"] if t["state"] == "TASK_RUNNING"]
            if app["tasksRunning"] == count and len(running) == count and not app["deployments"]:
                return app
            return None

        return wait_for(settled, f"{app_id} to run {count} tasks", timeout)

    def wait_gone(self, app_id: str, timeout: float = 60) -> None:
        wait_for(
            lambda: self.get(f"/v2/apps{app_id}").status_code == 404,
            f"{app_id} to be removed",
            timeout,
        )


# ---------------------------------------------------------------------------- shared clusters

_SHARED: dict[bool, V2] = {}


def shared_marathon(request: pytest.FixtureRequest, *, with_agent: bool) -> V2:
    """A marathon shared by every module of this pytest process that asks for the same
    kind: with one process-containerizer agent with room for many small tasks, or with
    no agent at all (nothing launches: for tests of bad input). Stopped at session end.

    Modules sharing it must use app and group ids of their own and never touch the root
    group as a whole.
    """
    if with_agent not in _SHARED:
        root = request.getfixturevalue("tmp_path_factory").mktemp(
            "marathon-with-agent" if with_agent else "marathon-alone"
        )
        cluster = Cluster(root)
        request.session.addfinalizer(cluster.close)
        master = cluster.start_master()
        if with_agent:
            cluster.start_agent(
                master,
                resources="cpus:64;mem:32768;disk:8192",
                containerizers="process",
                ports=task_port_range(),  # the tests' apps ask for few host ports
            )
        _SHARED[with_agent] = V2(cluster.start_marathon(master).url)
    return _SHARED[with_agent]
