"""A small Mesos v1 HTTP scheduler for tests, speaking the wire protocol directly.

pymesos is exercised in ``tests/compat``; this client gives tests exact control over
capabilities, calls and the raw events.
"""

from __future__ import annotations

import base64
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from berth.core.recordio import Decoder

Event = dict[str, Any]


class Framework:
    def __init__(
        self,
        master_url: str,
        *,
        name: str = "test-framework",
        capabilities: tuple[str, ...] = ("PARTITION_AWARE",),
        failover_timeout: float = 300.0,
        framework_id: str | None = None,
        roles: tuple[str, ...] | None = None,
        auto_ack: bool = True,
    ) -> None:
        self.url = master_url.rstrip("/") + "/api/v1/scheduler"
        self.info: dict[str, Any] = {
            "user": "root",
            "name": name,
            "failover_timeout": failover_timeout,
            "capabilities": [{"type": c} for c in capabilities],
        }
        if roles is not None:
            self.info["roles"] = list(roles)
            self.info["capabilities"].append({"type": "MULTI_ROLE"})
        self.framework_id = framework_id
        self.stream_id: str | None = None
        self.events: queue.Queue[Event] = queue.Queue()
        self.auto_ack = auto_ack
        self._response: requests.Response | None = None
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self.closed = threading.Event()

    # ------------------------------------------------------------------ stream

    def subscribe(self, timeout: float = 30) -> Event:
        info = dict(self.info)
        body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if self.framework_id:
            info["id"] = {"value": self.framework_id}
            body["framework_id"] = {"value": self.framework_id}
        self.closed.clear()
        response = requests.post(
            self.url,
            json=body,
            headers={"Accept": "application/json"},
            stream=True,
            timeout=(10, None),
        )
        response.raise_for_status()
        self._response = response
        self.stream_id = response.headers.get("Mesos-Stream-Id")
        self._thread = threading.Thread(target=self._read, args=(response,), daemon=True)
        self._thread.start()
        subscribed = self.next_event("SUBSCRIBED", timeout=timeout)
        self.framework_id = subscribed["subscribed"]["framework_id"]["value"]
        return subscribed

    def _read(self, response: requests.Response) -> None:
        decoder = Decoder()
        try:
            for chunk in response.iter_content(chunk_size=None):
                for record in decoder.feed(chunk):
                    event = json.loads(record)
                    if (
                        self.auto_ack
                        and event.get("type") == "UPDATE"
                        and "uuid" in event["update"]["status"]
                    ):
                        self.acknowledge(event["update"]["status"])
                    self.events.put(event)
        except Exception:
            pass
        finally:
            self.closed.set()

    def disconnect(self) -> None:
        """Drop the event stream, as a crashed scheduler would."""
        if self._response is not None:
            # Closing the response does not wake the reader thread blocked in recv();
            # shutting the socket down does, and the master sees the connection end.
            sock = getattr(getattr(self._response.raw, "_connection", None), "sock", None)
            if sock is None:
                fp = getattr(self._response.raw, "_fp", None)
                sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            self._response.close()
        if self._thread is not None:
            self._thread.join(10)

    def next_event(
        self,
        kind: str,
        timeout: float = 60,
        where: Callable[[Event], bool] = lambda _e: True,
    ) -> Event:
        """The next event of ``kind`` matching ``where``; others seen meanwhile are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} event within {timeout}s")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event["type"] == kind and where(event):
                return event

    def next_update(self, task_id: str, timeout: float = 60) -> dict[str, Any]:
        event = self.next_event(
            "UPDATE",
            timeout,
            lambda e: bool(e["update"]["status"]["task_id"]["value"] == task_id),
        )
        status: dict[str, Any] = event["update"]["status"]
        return status

    def wait_state(self, task_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
        """Updates for ``task_id`` until one has ``state``; fails on a different terminal."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            status = self.next_update(task_id, max(0.1, deadline - time.monotonic()))
            seen.append(status["state"])
            if status["state"] == state:
                return status
            if status["state"] in TERMINAL:
                raise AssertionError(f"task {task_id} ended {seen}, expected {state}: {status}")

    def offers(self, count: int = 1, timeout: float = 60) -> list[Event]:
        found: list[Event] = []
        while len(found) < count:
            event = self.next_event("OFFERS", timeout)
            found.extend(event["offers"]["offers"])
        return found

    # ------------------------------------------------------------------ calls

    def call(self, body: dict[str, Any]) -> requests.Response:
        body = {"framework_id": {"value": self.framework_id}, **body}
        headers = {"Mesos-Stream-Id": self.stream_id or ""}
        return self._session.post(self.url, json=body, headers=headers, timeout=10)

    def acknowledge(self, status: dict[str, Any]) -> None:
        r = self.call(
            {
                "type": "ACKNOWLEDGE",
                "acknowledge": {
                    "agent_id": status["agent_id"],
                    "task_id": status["task_id"],
                    "uuid": status["uuid"],
                },
            }
        )
        assert r.status_code == 202, r.text

    def launch(self, offer: Event, *tasks: dict[str, Any], refuse_seconds: float = 5) -> None:
        r = self.call(
            {
                "type": "ACCEPT",
                "accept": {
                    "offer_ids": [offer["id"]],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
                    "filters": {"refuse_seconds": refuse_seconds},
                },
            }
        )
        assert r.status_code == 202, r.text

    def decline(self, offer: Event, refuse_seconds: float = 5) -> None:
        r = self.call(
            {
                "type": "DECLINE",
                "decline": {
                    "offer_ids": [offer["id"]],
                    "filters": {"refuse_seconds": refuse_seconds},
                },
            }
        )
        assert r.status_code == 202, r.text

    def kill(self, task_id: str) -> None:
        r = self.call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
        assert r.status_code == 202, r.text

    def teardown(self) -> None:
        self.call({"type": "TEARDOWN"})


TERMINAL = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)


def task_info(
    offer: Event,
    *,
    name: str = "task",
    cpus: float = 0.1,
    mem: float = 32,
    command: str | None = "sleep 1000",
    ports: list[int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A TaskInfo for ``offer``'s agent with a unique id."""
    resources: list[dict[str, Any]] = [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]
    if ports:
        resources.append(
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": p, "end": p} for p in ports]},
            }
        )
    task: dict[str, Any] = {
        "name": name,
        "task_id": {"value": f"{name}-{uuid.uuid4().hex[:8]}"},
        "agent_id": offer["agent_id"],
        "resources": resources,
    }
    if command is not None:
        task["command"] = {"value": command, "shell": True}
    task.update(extra)
    return task


def docker_container(image: str, **docker: Any) -> dict[str, Any]:
    return {"type": "DOCKER", "docker": {"image": image, "network": "HOST", **docker}}


def random_uuid_b64() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode()
