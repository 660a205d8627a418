"""The system endpoints of Berth's marathon (reference section 1): ``/v2/events`` framing
and filters, ``/v2/info``, ``/v2/leader``, ``/ping``, ``/metrics``, ``/``.

A marathon without agents (shared with the bad-input module): nothing here needs a task.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.cluster import wait_for
from tests.v2api import V2, JSONDict, shared_marathon, sleeper

# One SSE frame as Marathon writes it: no id, one data line, CRLF line ends.
FRAME = re.compile(rb"event: ([a-z_]+)\r\ndata: ([^\r\n]*)\r\n\r\n")


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> V2:
    return shared_marathon(request, with_agent=False)


class RawStream:
    """``GET /v2/events`` over a plain socket: the reply's exact bytes, de-chunked."""

    def __init__(self, api: V2, query: str) -> None:
        parts = urlsplit(api.url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.sock.sendall(
            f"GET /v2/events{query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        self.raw = b""
        self.head = b""

    def close(self) -> None:
        self.sock.close()

    def receive(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return
        assert chunk, f"the stream ended: {self.raw!r}"
        self.raw += chunk
        if not self.head and b"\r\n\r\n" in self.raw:
            self.head, _, self.raw = self.raw.partition(b"\r\n\r\n")

    def headers(self) -> dict[str, str]:
        lines = self.head.decode().split("\r\n")[1:]
        return {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines)}

    def body(self) -> bytes:
        """The body so far: chunked transfer coding undone, whole chunks only."""
        if self.headers().get("transfer-encoding") != "chunked":
            return self.raw
        out, rest = b"", self.raw
        while b"\r\n" in rest:
            size_line, _, after = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if len(after) < size + 2:
                break
            assert after[size : size + 2] == b"\r\n", rest
            out += after[:size]
            rest = after[size + 2 :]
        return out

    def wait(self, pattern: re.Pattern[bytes], poke: Callable[[], object] = lambda: None) -> bytes:
        """Read until ``pattern`` matches the body, calling ``poke`` between reads."""
        deadline = time.monotonic() + 30
        while not (self.head and pattern.search(self.body())):
            assert time.monotonic() < deadline, f"no {pattern.pattern!r} in {self.raw!r}"
            poke()
            self.receive(0.5)
        return self.body()


def test_event_stream_frames_and_filter(api: V2) -> None:
    stream = RawStream(api, "?event_type=group_change_success&event_type=api_post_event")
    try:
        stream.wait(re.compile(rb""))
        assert stream.head.split(b" ")[1] == b"200", stream.head
        headers = stream.headers()
        assert headers["content-type"] == "text/event-stream;charset=UTF-8"
        assert headers["cache-control"] == "no-cache, no-store, must-revalidate"

        # The stream attaches asynchronously: change things until frames arrive.
        changes = iter(range(1, 100))

        def change() -> None:
            n = next(changes)
            assert api.put(f"/v2/apps/events/app{n}", sleeper("x", instances=0)).ok

        body = stream.wait(
            re.compile(rb"event: group_change_success\r\n(?:.|\r|\n)*api_post_event"), change
        )
        body = stream.wait(re.compile(rb"\r\n\r\n$"))
    finally:
        stream.close()

    # Every byte belongs to a frame (or is a heartbeat); only the asked-for types came.
    assert FRAME.sub(b"", body).replace(b"\r\n", b"") == b"", body
    frames = FRAME.findall(body)
    for event_type, payload in frames:
        event = json.loads(payload)
        assert event["eventType"] == event_type.decode()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["timestamp"])
    types = {t.decode() for t, _ in frames}
    assert types == {"group_change_success", "api_post_event"}
    post = next(json.loads(p) for t, p in frames if t == b"api_post_event")
    assert post["appDefinition"]["id"].startswith("/events/app")
    assert post["uri"].startswith("/v2/apps/events/app")


def test_event_stream_needs_the_event_stream_accept_header(api: V2) -> None:
    r = api.get("/v2/events", headers={"Accept": "application/json"})
    assert r.status_code == 405
    assert r.json()["message"]


def test_info(api: V2) -> None:
    def subscribed() -> JSONDict | None:
        r = api.get("/v2/info")
        assert r.status_code == 200
        found: JSONDict = r.json()
        return found if found["frameworkId"] else None  # null until subscribed

    info = wait_for(subscribed, "marathon to subscribe to the master")
    assert info["name"] == "marathon"
    assert info["version"].startswith("1.10.")
    assert info["elected"] is True
    port = urlsplit(api.url).port
    assert info["leader"] == f"127.0.0.1:{port}"
    assert info["frameworkId"]
    for config in ("marathon_config", "zookeeper_config", "http_config"):
        assert isinstance(info[config], dict), config
    assert info["http_config"]["http_port"] == port
    assert info["marathon_config"]["mesos_role"] == "*"
    assert info["marathon_config"]["local_port_min"] == 10000


def test_leader(api: V2) -> None:
    r = api.get("/v2/leader")
    assert r.status_code == 200
    assert r.json() == {"leader": f"127.0.0.1:{urlsplit(api.url).port}"}


@pytest.mark.parametrize(
    ("accept", "content_type", "body"),
    [
        ("*/*", "text/plain", "pong"),
        ("text/plain", "text/plain", "pong"),
        ("application/json", "application/json", '"pong"'),  # what the Python client sends
    ],
)
def test_ping_answers_in_the_accepted_type(
    api: V2, accept: str, content_type: str, body: str
) -> None:
    r = api.get("/ping", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == content_type
    assert r.text == body


def test_metrics(api: V2) -> None:
    r = api.get("/metrics")
    assert r.status_code == 200
    assert set(r.json()) == {"version", "counters", "gauges", "histograms", "meters", "timers"}
    prometheus = api.get("/metrics/prometheus")
    assert prometheus.status_code == 200
    assert prometheus.headers["Content-Type"].startswith("text/plain")


def test_root_redirects_to_the_ui(api: V2) -> None:
    r = api.request("GET", "/")
    assert r.history
    assert r.history[0].status_code == 302
    assert r.history[0].headers["Location"] == "/ui/"
