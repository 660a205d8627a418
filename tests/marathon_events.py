"""Following marathon from tests: its ``/v2/events`` stream, replayed instance counts,
and the few ``/v2`` calls behaviour tests make.

* `EventStream` reads ``/v2/events`` in a thread and keeps every event; tests wait on
  events (`EventStream.wait_for`, `EventStream.wait_type`) or look back at them.
* `InstanceLedger` replays instance events into each instance's condition and health, to
  check a bound at every moment of a deployment, not only at its end.
* `MarathonClient`, `start_marathon` (started and subscribed), `task_processes` (the
  processes a task runs, found on this machine).

Open a stream before changing something, then wait on (or replay) what the change did::

    marathon, api = start_marathon(cluster, master)
    with EventStream(marathon.url) as events:
        mark = events.mark()
        deployment = api.restart_app("/web")
        events.wait_for(is_deployment_end(deployment), "the restart", since=mark)
        timeline = InstanceLedger("/web").seed(tasks_before).replay(events.events(since=mark))

The stream is read over a plain socket speaking HTTP/1.0, so the server ends the body by
closing the connection (no chunked encoding to undo) and ``close`` can unblock the reader
at once by shutting the socket down. Events are kept in arrival order, each one the JSON
payload of a ``data:`` line (``eventType`` inside says what it is). Heartbeats (bare
``\\r\\n``) are ignored.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from tests.cluster import Cluster, Marathon, Master, wait_for

Event = dict[str, Any]
Predicate = Callable[[Event], bool]

DEFAULT_TIMEOUT = 60.0


class EventStream:
    """One SSE connection to ``{url}/v2/events`` and every event it brought so far.

    ``event_types`` filters on the server (``?event_type=...``), as Marathon's API does.
    `start` returns once the server has attached the stream (the ``event_stream_attached``
    event that every new listener receives about itself), so nothing published after
    `start` returns is missed. The stream ends when the server goes away (``ended`` is
    set then); reconnecting is a new `EventStream`.
    """

    def __init__(self, url: str, event_types: Iterable[str] = ()) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        types = list(event_types)
        if types and "event_stream_attached" not in types:
            types.append("event_stream_attached")  # how `start` knows it is attached
        query = urlencode([("event_type", t) for t in types])
        self._path = "/v2/events" + (f"?{query}" if query else "")
        self._events: list[Event] = []
        self._cond = threading.Condition()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self.status_line = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> EventStream:
        sock = socket.create_connection((self._host, self._port), timeout=timeout)
        sock.sendall(
            (
                f"GET {self._path} HTTP/1.0\r\n"
                f"Host: {self._host}:{self._port}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        sock.settimeout(None)  # events may be minutes apart; close() unblocks the reader
        self._sock = sock
        self._thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self._thread.start()
        try:
            self.wait_for(
                lambda e: e.get("eventType") == "event_stream_attached",
                "the event stream to attach",
                timeout=timeout,
            )
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> EventStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def _read(self) -> None:
        try:
            self._read_frames()
        except (OSError, ValueError) as e:  # ValueError: a frame that is not JSON
            if self._sock is not None:  # not closed by us
                self.error = e
        finally:
            self.ended.set()
            with self._cond:
                self._cond.notify_all()

    def _read_frames(self) -> None:
        sock = self._sock
        assert sock is not None
        buffer = b""
        headers_done = False
        data_lines: list[str] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
            if not headers_done:
                head, sep, rest = buffer.partition(b"\r\n\r\n")
                if not sep:
                    continue
                self.status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
                if " 200 " not in self.status_line + " ":
                    raise OSError(f"event stream refused: {self.status_line}")
                headers_done = True
                buffer = rest
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.rstrip(b"\r").decode()
                if line.startswith("data:"):
                    data_lines.append(line[5:].lstrip(" "))
                elif not line and data_lines:
                    self._add(json.loads("\n".join(data_lines)))
                    data_lines = []

    def _add(self, event: Event) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    # ------------------------------------------------------------------ queries

    def events(self, *types: str, since: int = 0) -> list[Event]:
        """The events received so far (of ``types``, if given), from index ``since``."""
        with self._cond:
            found = self._events[since:]
        return [e for e in found if not types or e.get("eventType") in types]

    def after(self, event: Event) -> int:
        """The index just after ``event`` (one this stream returned), for ``since=``."""
        with self._cond:
            for index, seen in enumerate(self._events):
                if seen is event:
                    return index + 1
        raise ValueError("not an event of this stream")

    def mark(self) -> int:
        """An index for `events(since=...)` and `wait_for(since=...)`: now."""
        with self._cond:
            return len(self._events)

    def wait_for(
        self,
        predicate: Predicate,
        what: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        since: int = 0,
    ) -> Event:
        """The first event from index ``since`` on that satisfies ``predicate``; waits
        for it until ``timeout`` (AssertionError then, with the event types seen)."""
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self._events):
                    event = self._events[index]
                    index += 1
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.ended.is_set():
                    break
                self._cond.wait(min(left, 1.0))
        seen = [e.get("eventType") for e in self.events(since=since)]
        why = "the stream ended" if self.ended.is_set() else f"timed out after {timeout}s"
        raise AssertionError(f"{why} waiting for {what} (error: {self.error}); saw {seen}")

    def wait_type(
        self,
        event_type: str,
        what: str = "",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        since: int = 0,
        **fields: Any,
    ) -> Event:
        """The first ``event_type`` event whose payload has every one of ``fields``."""
        return self.wait_for(
            lambda e: (
                e.get("eventType") == event_type and all(e.get(k) == v for k, v in fields.items())
            ),
            what or f"{event_type} {fields}",
            timeout=timeout,
            since=since,
        )

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())


def is_deployment_end(deployment_id: str) -> Predicate:
    """Matches the ``deployment_success`` or ``deployment_failed`` of ``deployment_id``."""

    def matches(event: Event) -> bool:
        return (
            event.get("eventType") in ("deployment_success", "deployment_failed")
            and event.get("id") == deployment_id
        )

    return matches


# --------------------------------------------------------------------------------------
# Replaying instance events

# Conditions of an instance whose task exists (or may exist) on an agent: what holds
# resources and counts against maxCapacity.
ALIVE_CONDITIONS = frozenset(
    {"Provisioned", "Staging", "Starting", "Running", "Killing", "Unreachable"}
)

_CONDITION_OF_TASK_STATE = {
    "TASK_STAGING": "Staging",
    "TASK_STARTING": "Starting",
    "TASK_RUNNING": "Running",
    "TASK_KILLING": "Killing",
    "TASK_FINISHED": "Finished",
    "TASK_FAILED": "Failed",
    "TASK_KILLED": "Killed",
    "TASK_ERROR": "Error",
    "TASK_LOST": "Gone",
    "TASK_DROPPED": "Dropped",
    "TASK_UNREACHABLE": "Unreachable",
    "TASK_GONE": "Gone",
    "TASK_GONE_BY_OPERATOR": "Gone",
    "TASK_UNKNOWN": "Unknown",
}


def instance_of_task(task_id: str) -> str:
    """The instance id inside a Marathon task id.

    >>> instance_of_task("web.instance-abc._app.2")
    'web.instance-abc'
    """
    instance_id, sep, _ = task_id.rpartition("._app.")
    return instance_id if sep else task_id


class InstanceLedger:
    """Each instance's condition and health for one app, as the event stream tells them.

    Seed it with the app's tasks from ``GET /v2/apps/{id}`` (`seed`), then `apply` the
    events that followed: ``instance_changed_event`` and ``status_update_event`` move the
    condition, ``instance_health_changed_event`` the health. Events of other apps are
    ignored. `replay` gives the counts after every event, to check a bound that must hold
    at every moment of a deployment.
    """

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.condition: dict[str, str] = {}
        self.healthy: dict[str, bool | None] = {}

    def seed(self, tasks: Iterable[dict[str, Any]]) -> InstanceLedger:
        for task in tasks:
            instance_id = instance_of_task(task["id"])
            self.condition[instance_id] = _CONDITION_OF_TASK_STATE.get(task["state"], "Unknown")
            results = task.get("healthCheckResults") or []
            self.healthy[instance_id] = (
                all(r.get("alive") is True for r in results) if results else None
            )
        return self

    def apply(self, event: Event) -> bool:
        """Apply one event; True when it was about this app's instances."""
        kind = event.get("eventType")
        if kind == "instance_changed_event" and event.get("runSpecId") == self.app_id:
            self.condition[event["instanceId"]] = event["condition"]
            return True
        if kind == "status_update_event" and event.get("appId") == self.app_id:
            condition = _CONDITION_OF_TASK_STATE.get(event.get("taskStatus", ""))
            if condition is not None:
                self.condition[instance_of_task(event["taskId"])] = condition
            return True
        if kind == "instance_health_changed_event" and event.get("runSpecId") == self.app_id:
            self.healthy[event["instanceId"]] = event.get("healthy")
            return True
        return False

    def running_healthy(self) -> int:
        """Instances running and passing their health checks (section 3.2's "healthy")."""
        return sum(
            1
            for instance_id, condition in self.condition.items()
            if condition == "Running" and self.healthy.get(instance_id) is True
        )

    def running(self) -> int:
        return sum(1 for c in self.condition.values() if c == "Running")

    def alive(self) -> int:
        """Instances with a task that exists or may exist (they hold resources)."""
        return sum(1 for c in self.condition.values() if c in ALIVE_CONDITIONS)

    def alive_ids(self) -> set[str]:
        return {i for i, c in self.condition.items() if c in ALIVE_CONDITIONS}

    def replay(self, events: Iterable[Event]) -> list[tuple[Event, int, int]]:
        """``(event, running and healthy, alive)`` after each of this app's events."""
        out = []
        for event in events:
            if self.apply(event):
                out.append((event, self.running_healthy(), self.alive()))
        return out


# --------------------------------------------------------------------------------------
# Driving marathon over /v2


class MarathonClient:
    """The few ``/v2`` calls behaviour tests make, over plain HTTP.

    Calls that must succeed raise on an unexpected status (with the body, to see why);
    deployment-producing calls return the deployment id from ``Marathon-Deployment-Id``.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _check(self, r: requests.Response, *expected: int) -> requests.Response:
        if r.status_code not in expected:
            raise AssertionError(
                f"{r.request.method} {r.url} answered {r.status_code}, "
                f"expected {expected}: {r.text}"
            )
        return r

    def get(self, path: str, **params: Any) -> Any:
        r = requests.get(self.url + path, params=params, timeout=10)
        return self._check(r, 200).json()

    def create_app(self, app: dict[str, Any]) -> str:
        r = requests.post(self.url + "/v2/apps", json=app, timeout=10)
        return self._check(r, 201).headers["Marathon-Deployment-Id"]

    def update_app(self, app_id: str, changes: dict[str, Any], *, force: bool = False) -> str:
        r = requests.put(
            f"{self.url}/v2/apps{app_id}",
            json=changes,
            params={"force": "true"} if force else {},
            timeout=10,
        )
        return self._check(r, 200, 201).headers["Marathon-Deployment-Id"]

    def restart_app(self, app_id: str) -> str:
        r = requests.post(f"{self.url}/v2/apps{app_id}/restart", timeout=10)
        return self._check(r, 200).headers["Marathon-Deployment-Id"]

    def delete_app(self, app_id: str) -> str:
        r = requests.delete(f"{self.url}/v2/apps{app_id}", timeout=10)
        return self._check(r, 200).headers["Marathon-Deployment-Id"]

    def app(self, app_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.get(f"/v2/apps{app_id}")["app"]
        return data

    def tasks(self, app_id: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.get(f"/v2/apps{app_id}/tasks")["tasks"]
        return data

    def running_tasks(self, app_id: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks(app_id) if t["state"] == "TASK_RUNNING"]

    def deployments(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.get("/v2/deployments")
        return data

    def queue(self, *, embed: str | None = None) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = (
            self.get("/v2/queue", embed=embed) if embed else self.get("/v2/queue")
        )["queue"]
        return data

    def queued(self, app_id: str, *, embed: str | None = None) -> dict[str, Any] | None:
        """The ``/v2/queue`` item of ``app_id`` (None when nothing of it waits)."""
        return next((q for q in self.queue(embed=embed) if q["app"]["id"] == app_id), None)

    def deployment_running(self, deployment_id: str) -> bool:
        return any(d["id"] == deployment_id for d in self.deployments())


def start_marathon(
    cluster: Cluster,
    master: Master,
    *,
    reconcile_interval: float = 5.0,
) -> tuple[Marathon, MarathonClient]:
    """Start marathon and wait until it is subscribed and has answered the master's first
    offers, so apps created afterwards launch from offers asked for them (and a test
    starts from a settled framework, whatever it does first)."""
    marathon = cluster.start_marathon(master, reconcile_interval=reconcile_interval)
    api = MarathonClient(marathon.url)
    wait_subscribed(api, master)
    return marathon, api


def wait_subscribed(api: MarathonClient, master: Master) -> str:
    """Wait until marathon is subscribed to ``master`` holding no offers; its framework id."""

    def subscribed() -> str | None:
        framework_id = api.get("/v2/info")["frameworkId"]
        if not framework_id:
            return None
        for framework in master.state()["frameworks"]:
            if framework["id"] == framework_id and framework["active"]:
                return str(framework_id) if not framework["offers"] else None
        return None

    return wait_for(subscribed, "marathon to subscribe to the master")


def task_processes(task_id: str) -> list[int]:
    """Pids of the processes of a process-containerizer task (found by ``MESOS_TASK_ID``
    in their environment), whatever became of the agent that started them."""
    marker = f"MESOS_TASK_ID={task_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found
