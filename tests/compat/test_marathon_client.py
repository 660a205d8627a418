"""The unchanged ``marathon`` PyPI client (0.13.0) drives Berth's marathon.

The client builds its objects with ``Class(**snake_case(json))``, so any key it does not
know raises, and its event stream raises on any event type it does not know (reference
2.6). Every call here parses a real reply, and a second client follows ``/v2/events`` for
the whole module: each event it yields has been parsed by the client too.

Apps with nested objects (containers, health checks) are created over raw HTTP: the client
crashes *serialising* them on Python >= 3.10 (its bug, reference 2.6), but must parse them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from marathon import MarathonClient
from marathon.exceptions import ConflictError, NotFoundError
from marathon.models import (
    MarathonApp,
    MarathonDeployment,
    MarathonGroup,
    MarathonTask,
)
from marathon.models.events import (
    MarathonApiPostEvent,
    MarathonDeploymentInfo,
    MarathonDeploymentStepSuccess,
    MarathonDeploymentSuccess,
    MarathonEvent,
    MarathonEventStreamAttached,
    MarathonGroupChangeSuccess,
    MarathonInstanceChangedEvent,
    MarathonStatusUpdateEvent,
)

from tests.cluster import Cluster, task_port_range, wait_for
from tests.v2api import V2, sleeper

pytestmark = [pytest.mark.docker, pytest.mark.slow]


class RecordingSession(requests.Session):
    """Keeps the responses it opens, so the event stream's socket can be shut down."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[requests.Response] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(*args, **kwargs)
        self.responses.append(response)
        return response


class ClientEvents:
    """``MarathonClient.event_stream()`` consumed in a thread: the parsed events in order,
    and whatever the client raised while parsing (nothing, if Berth speaks its language)."""

    def __init__(self, url: str) -> None:
        self.session = RecordingSession()
        self.client = MarathonClient(url, sse_session=self.session)
        self.events: list[MarathonEvent] = []
        self.errors: list[BaseException] = []
        self.closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, name="marathon-events", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.wait(lambda e: isinstance(e, MarathonEventStreamAttached), "the stream to attach")

    def _pump(self) -> None:
        try:
            for event in self.client.event_stream():
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        except BaseException as e:  # handed to the test thread
            if not self.closing:
                with self._cond:
                    self.errors.append(e)
                    self._cond.notify_all()
        finally:
            for response in self.session.responses:
                response.close()

    def close(self) -> None:
        self.closing = True
        for response in self.session.responses:
            # http.client has detached the socket from its connection; the reply's file
            # still holds it. Shutting a duplicate down wakes the blocked reader.
            with contextlib.suppress(OSError, ValueError):
                fd = response.raw.fileno()
                with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
                    duplicate.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        assert not self._thread.is_alive(), "the event stream reader did not stop"
        self.session.close()

    def wait(
        self, predicate: Callable[[MarathonEvent], bool], what: str, timeout: float = 60
    ) -> MarathonEvent:
        deadline = time.monotonic() + timeout
        index = 0
        with self._cond:
            while True:
                assert not self.errors, f"the client failed on the stream: {self.errors!r}"
                for event in self.events[index:]:
                    if predicate(event):
                        return event
                index = len(self.events)
                left = deadline - time.monotonic()
                assert left > 0, f"no event for {what}; saw {[e.event_type for e in self.events]}"
                self._cond.wait(min(left, 1.0))

    def of_type(self, cls: type[MarathonEvent]) -> list[Any]:
        with self._cond:
            return [e for e in self.events if isinstance(e, cls)]


@pytest.fixture(scope="module")
def url(module_cluster: Cluster, busybox_image: str) -> str:
    master = module_cluster.start_master()
    module_cluster.start_agent(
        master, resources="cpus:16;mem:8192;disk:4096", ports=task_port_range(100)
    )
    return module_cluster.start_marathon(master).url


@pytest.fixture(scope="module")
def client(url: str) -> MarathonClient:
    return MarathonClient(url)


@pytest.fixture(scope="module")
def events(url: str) -> Iterator[ClientEvents]:
    stream = ClientEvents(url)
    stream.start()
    yield stream
    stream.close()
    assert not stream.errors, stream.errors


def wait_settled(client: MarathonClient, app_id: str, running: int) -> MarathonApp:
    """The app, once it runs ``running`` tasks and no deployment touches it."""

    def settled() -> MarathonApp | None:
        app = client.get_app(app_id)
        ok = app.tasks_running == running and len(app.tasks) == running and not app.deployments
        return app if ok else None

    return wait_for(settled, f"{app_id} to settle at {running} running tasks")


# ---------------------------------------------------------------------------- system


def test_ping_info_leader_metrics(client: MarathonClient, url: str) -> None:
    assert client.ping() == b'"pong"'
    info = client.get_info()
    port = int(url.rsplit(":", 1)[1])
    assert info.name == "marathon"
    assert info.http_config.http_port == port
    assert info.marathon_config.mesos_role == "*"
    assert info.zookeeper_config is not None
    assert client.get_leader() == {"leader": f"127.0.0.1:{port}"}
    assert "gauges" in client.get_metrics()


def test_event_subscriptions_are_gone_as_in_marathon_1_10(client: MarathonClient) -> None:
    with pytest.raises(NotFoundError):
        client.list_event_subscriptions()


# ---------------------------------------------------------------------------- apps


def test_app_lifecycle_and_its_events(client: MarathonClient, events: ClientEvents) -> None:
    app = client.create_app(
        "/cli/app",
        MarathonApp(cmd="sleep 1000", cpus=0.01, mem=8, instances=1, labels={"via": "client"}),
    )
    assert isinstance(app, MarathonApp)
    assert app.id == "/cli/app"
    assert app.tasks_running == 0
    (deployment,) = app.deployments
    created = deployment.id

    # The creation, as the client sees it on /v2/events.
    events.wait(
        lambda e: isinstance(e, MarathonDeploymentSuccess) and e.id == created,
        "the creation's deployment_success",
    )
    posts = [
        e for e in events.of_type(MarathonApiPostEvent) if e.app_definition["id"] == "/cli/app"
    ]
    assert posts
    assert posts[0].uri == "/v2/apps"
    infos = [e for e in events.of_type(MarathonDeploymentInfo) if e.plan.id == created]
    assert [[a["action"] for a in e.current_step["actions"]] for e in infos] == [
        ["StartApplication"],
        ["ScaleApplication"],
    ]
    assert infos[0].plan.steps[1].actions[0].app == "/cli/app"
    assert [e for e in events.of_type(MarathonDeploymentStepSuccess) if e.plan.id == created]
    running = [
        e
        for e in events.of_type(MarathonStatusUpdateEvent)
        if e.app_id == "/cli/app" and e.task_status == "TASK_RUNNING"
    ]
    assert len({e.task_id for e in running}) == 1
    assert running[0].ip_addresses[0].ip_address
    conditions = [
        e.condition
        for e in events.of_type(MarathonInstanceChangedEvent)
        if e.run_spec_id == "/cli/app"
    ]
    assert conditions[-1] == "Running"
    assert events.of_type(MarathonGroupChangeSuccess)

    # Reading it back, every embed.
    got = client.get_app(
        "/cli/app",
        embed_tasks=True,
        embed_counts=True,
        embed_deployments=True,
        embed_readiness=True,
        embed_last_task_failure=True,
        embed_failures=True,
        embed_task_stats=True,
    )
    assert got.tasks_running == 1
    assert isinstance(got.tasks[0], MarathonTask)
    assert got.version_info.last_config_change_at is not None
    listed = client.list_apps(
        embed_tasks=True,
        embed_counts=True,
        embed_deployments=True,
        embed_readiness=True,
        embed_last_task_failure=True,
        embed_failures=True,
        embed_task_stats=True,
    )
    assert "/cli/app" in [a.id for a in listed]
    assert [a.id for a in client.list_apps(app_id="cli/app")] == ["/cli/app"]
    assert [a.id for a in client.list_apps(cmd="sleep 1000")] == ["/cli/app"]
    assert [a.id for a in client.list_apps(label="via==client")] == ["/cli/app"]
    assert [a.id for a in client.list_apps(labels={"via": "client"})] == ["/cli/app"]

    with pytest.raises(ConflictError):
        client.create_app("/cli/app", MarathonApp(cmd="sleep 1", instances=0))

    # Scale, update, restart.
    assert set(client.scale_app("/cli/app", instances=2)) == {"deploymentId", "version"}
    wait_settled(client, "/cli/app", 2)
    client.scale_app("/cli/app", delta=-1)
    wait_settled(client, "/cli/app", 1)
    client.update_app("/cli/app", MarathonApp(cmd="sleep 1001"))
    assert wait_settled(client, "/cli/app", 1).cmd == "sleep 1001"
    restarted = client.restart_app("/cli/app")
    assert set(restarted) == {"deploymentId", "version"}
    assert wait_settled(client, "/cli/app", 1).version == restarted["version"]

    versions = client.list_versions("/cli/app")
    assert len(versions) >= 4
    first = client.get_version("/cli/app", versions[-1])
    assert isinstance(first, MarathonApp)
    assert first.cmd == "sleep 1000"

    # Tasks: list, kill one, kill all, kill by id, kill with scale.
    (task,) = client.list_tasks("/cli/app")
    assert task.id in {t.id for t in client.list_tasks()}
    killed = client.kill_task("/cli/app", task.id)
    assert isinstance(killed, MarathonTask)
    assert killed.id == task.id
    wait_for(
        lambda: [t for t in client.list_tasks("/cli/app") if t.id != task.id],
        "a replacement task",
    )
    wait_settled(client, "/cli/app", 1)
    all_killed = client.kill_tasks("/cli/app")
    assert [isinstance(t, MarathonTask) for t in all_killed] == [True]
    wait_settled(client, "/cli/app", 1)
    ids = [t.id for t in client.list_tasks("/cli/app")]
    assert client.kill_given_tasks(ids) is True
    wait_for(lambda: ids[0] not in [t.id for t in client.get_app("/cli/app").tasks], "kill")
    survivor = wait_settled(client, "/cli/app", 1).tasks[0]
    scaled = client.kill_task("/cli/app", survivor.id, scale=True)
    assert set(scaled) == {"deploymentId", "version"}
    wait_for(lambda: client.get_app("/cli/app").instances == 0, "the scale-down")
    wait_settled(client, "/cli/app", 0)

    assert set(client.delete_app("/cli/app")) == {"deploymentId", "version"}
    with pytest.raises(NotFoundError):
        client.get_app("/cli/app")
    assert not events.errors


# The client itself logs with the deprecated Logger.warn when it parses a COMMAND health
# check's {"value": ...} (Marathon's own wire form).
@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_container_app_with_health_checks_parses(
    client: MarathonClient, events: ClientEvents, url: str, busybox_image: str
) -> None:
    app = {
        "id": "/cli/web",
        "cmd": "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www",
        "cpus": 0.05,
        "mem": 32,
        "instances": 1,
        "labels": {"HAPROXY_GROUP": "external"},
        "env": {"GREETING": "hello"},
        "constraints": [["hostname", "UNIQUE"]],
        "container": {
            "type": "DOCKER",
            "docker": {"image": busybox_image, "network": "BRIDGE"},
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "name": "http"}],
            "volumes": [{"containerPath": "/data", "hostPath": "/tmp", "mode": "RO"}],
        },
        "healthChecks": [
            {
                "protocol": "MESOS_HTTP",
                "path": "/",
                "portIndex": 0,
                "gracePeriodSeconds": 30,
                "intervalSeconds": 1,
                "timeoutSeconds": 1,
                "delaySeconds": 0,
                "maxConsecutiveFailures": 3,
            },
            {"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 1},
        ],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
        "fetch": [],
    }
    r = requests.post(f"{url}/v2/apps", json=app, timeout=10)
    assert r.status_code == 201, r.text
    assert MarathonApp.from_json(r.json()).id == "/cli/web"  # the 201 body parses too

    def healthy() -> MarathonApp | None:
        got = client.get_app("/cli/web", embed_tasks=True)
        return got if got.tasks_healthy == 1 and not got.deployments else None

    got = wait_for(healthy, "/cli/web to be healthy")
    assert got.container.docker.image == busybox_image
    assert got.container.port_mappings[0].name == "http"
    assert {hc.protocol for hc in got.health_checks} == {"MESOS_HTTP", "COMMAND"}
    (task,) = got.tasks
    assert task.health_check_results
    assert all(result.alive for result in task.health_check_results)
    assert [a.id for a in client.list_apps(embed_tasks=True) if a.id == "/cli/web"]
    assert client.list_tasks("/cli/web")[0].ports == task.ports

    client.delete_app("/cli/web", force=True)
    assert not events.errors


# ---------------------------------------------------------------------------- deployments


def test_deployments_queue_and_cancelling(
    client: MarathonClient, events: ClientEvents, url: str
) -> None:
    api = V2(url)
    created = api.create(sleeper("/cli/stuck", cpus=1000, instances=2))

    def listed() -> MarathonDeployment | None:
        for d in client.list_deployments():
            if d.id == created and d.current_step == 2:
                found: MarathonDeployment = d
                return found
        return None

    deployment = wait_for(listed, "the stuck deployment")
    assert deployment.affected_apps == ["/cli/stuck"]
    assert [s.actions[0].action for s in deployment.steps] == [
        "StartApplication",
        "ScaleApplication",
    ]
    assert deployment.current_actions[0].app == "/cli/stuck"

    def queued() -> Any:
        items = [q for q in client.list_queue() if q.app.id == "/cli/stuck"]
        return items[0] if items else None

    item = wait_for(queued, "/cli/stuck in the queue")
    assert item.count == 2
    assert item.delay.overdue is True
    embedded = client.list_queue(embed_last_unused_offers=True)
    assert "/cli/stuck" in [q.app.id for q in embedded]
    client.reset_delay("/cli/stuck")

    with pytest.raises(ConflictError):
        client.update_app("/cli/stuck", MarathonApp(cmd="sleep 2"))
    forced = client.update_app("/cli/stuck", MarathonApp(cmd="sleep 2"), force=True)
    # The cancelled deployment's deployment_failed parses too.
    events.wait(lambda e: e.event_type == "deployment_failed" and e.id == created, "failed")

    rollback = client.delete_deployment(forced["deploymentId"])
    assert set(rollback) == {"deploymentId", "version"}
    assert client.get_app("/cli/stuck").cmd == "sleep 3600"
    assert client.delete_deployment(rollback["deploymentId"], force=True) == {}
    assert rollback["deploymentId"] not in [d.id for d in client.list_deployments()]

    client.delete_app("/cli/stuck", force=True)
    assert not events.errors


# ---------------------------------------------------------------------------- groups


def test_groups(client: MarathonClient, url: str) -> None:
    r = requests.post(
        f"{url}/v2/groups",
        json={
            "id": "/cligroup",
            "apps": [sleeper("db"), sleeper("web", dependencies=["db"])],
            "groups": [{"id": "inner", "apps": [sleeper("job", instances=0)]}],
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    V2(url).wait_deployment_done(r.json()["deploymentId"])

    assert "/cligroup" in [g.id for g in client.list_groups()]
    group = client.get_group("/cligroup")
    assert isinstance(group, MarathonGroup)
    assert sorted(a.id for a in group.apps) == ["/cligroup/db", "/cligroup/web"]
    assert [g.id for g in group.groups] == ["/cligroup/inner"]

    scaled = client.scale_group("/cligroup", 2)
    assert set(scaled) == {"deploymentId", "version"}
    V2(url).wait_deployment_done(scaled["deploymentId"])
    assert client.get_app("/cligroup/web").instances == 2

    deleted = client.delete_group("/cligroup", force=True)
    assert set(deleted) == {"deploymentId", "version"}
    with pytest.raises(NotFoundError):
        client.get_group("/cligroup")
