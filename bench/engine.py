"""A tiny synchronous Docker Engine API client over the Unix socket, for precise timing.

Polling "is it running yet?" through the ``docker`` CLI costs tens of milliseconds per
look (a Go binary starting); one keep-alive HTTP request on the socket costs about one.
``inspect`` here is what ``docker inspect`` asks the Engine.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import quote


class EngineError(RuntimeError):
    pass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def socket_path() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else "/var/run/docker.sock"


class Engine:
    def __init__(self, path: str | None = None, timeout: float = 60.0) -> None:
        self._path = path or socket_path()
        self._timeout = timeout
        self._conn: _UnixConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in range(2):
            if self._conn is None:
                self._conn = _UnixConnection(self._path, self._timeout)
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the Engine closed: retry once on a new one.
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
                continue
            return response.status, json.loads(data) if data.strip() else None
        raise AssertionError("unreachable")

    def _ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if status >= 300:
            raise EngineError(f"{method} {path}: {status} {data}")
        return data

    def create(self, config: dict[str, Any], name: str | None = None) -> str:
        query = f"?name={quote(name)}" if name else ""
        return str(self._ok("POST", f"/containers/create{query}", config)["Id"])

    def start(self, container: str) -> None:
        self._ok("POST", f"/containers/{container}/start")

    def inspect(self, container: str) -> dict[str, Any]:
        data: dict[str, Any] = self._ok("GET", f"/containers/{container}/json")
        return data

    def running(self, container: str) -> bool:
        return bool(self.inspect(container)["State"]["Running"])

    def remove(self, container: str) -> None:
        status, data = self.request("DELETE", f"/containers/{container}?force=1&v=1")
        if status not in (204, 404):
            raise EngineError(f"removing {container}: {status} {data}")

    def containers(self, label: str, *, running_only: bool = False) -> list[str]:
        """Ids of containers carrying ``label`` (``key`` or ``key=value``)."""
        filters: dict[str, list[str]] = {"label": [label]}
        if running_only:
            filters["status"] = ["running"]
        query = "?all=1&filters=" + quote(json.dumps(filters))
        return [c["Id"] for c in self._ok("GET", "/containers/json" + query)]

    def wait_until(
        self, condition: Any, what: str, timeout: float = 60.0, interval: float = 0.001
    ) -> float:
        """Poll ``condition()`` every ``interval`` seconds; the monotonic time it held."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
            time.sleep(interval)

    def remove_labelled(self, label: str) -> int:
        ids = self.containers(label)
        for container in ids:
            self.remove(container)
        return len(ids)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ContainerEvents:
    """The Engine's container events (``GET /events``) for one label, followed in a thread.

    ``times(key)`` gives, for the containers whose ``label_key`` label equals ``key``, the
    wall-clock time (seconds) of each action seen (``create``, ``start``, ...), as the
    Engine stamped them: independent of how fast anyone polls.
    """

    def __init__(self, label: str, label_key: str, path: str | None = None) -> None:
        self._label_key = label_key
        self._times: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._conn = _UnixConnection(path or socket_path(), timeout=3600)
        filters = json.dumps({"type": ["container"], "label": [label]})
        self._conn.request("GET", "/events?filters=" + quote(filters))
        self._response = self._conn.getresponse()
        if self._response.status != 200:
            raise EngineError(f"GET /events: {self._response.status}")
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            while line := self._response.readline():
                event = json.loads(line)
                attributes = (event.get("Actor") or {}).get("Attributes") or {}
                key = attributes.get(self._label_key)
                action = str(event.get("Action") or event.get("status") or "")
                if key is None or "timeNano" not in event:
                    continue
                with self._lock:
                    self._times.setdefault(key, {}).setdefault(action, event["timeNano"] / 1e9)
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the socket was shut down by ``close``

    def times(self, key: str, *actions: str, timeout: float = 10.0) -> dict[str, float]:
        """The stamps of ``actions`` for ``key``, waiting (bounded) for them to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = dict(self._times.get(key, {}))
            if all(a in found for a in actions) or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def close(self) -> None:
        # Shut the socket down so the reader sees EOF and ends; close only after it has,
        # since http.client does not expect its file to vanish under a reading thread.
        with contextlib.suppress(OSError):
            if self._conn.sock is not None:
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._conn.close()
