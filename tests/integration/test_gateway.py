"""``berth gateway`` in front of a real master, agent and marathon (reference dcos.md (a)).

One cluster (master, one process-containerizer agent, marathon, gateway) is shared by the
module; tests use ids of their own. Upstream behaviour the gateway must not alter
(raw paths, query strings, headers, streamed bodies) is checked against a small recording
HTTP server standing in as the gateway's "marathon".
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from berth.core.recordio import Decoder
from tests.cluster import Cluster, Gateway, Marathon, Master, Process, free_port, wait_for
from tests.framework import Framework

JSONDict = dict[str, Any]


@dataclass
class Stack:
    cluster: Cluster
    master: Master
    marathon: Marathon
    gateway: Gateway

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.gateway.url + path, timeout=10, **kwargs)

    def agent_id(self) -> str:
        return str(self.master.state()["slaves"][0]["id"])


@pytest.fixture(scope="module")
def stack(module_cluster: Cluster) -> Stack:
    master = module_cluster.start_master()
    module_cluster.start_agent(master, containerizers="process")
    marathon = module_cluster.start_marathon(master)
    gateway = module_cluster.start_gateway(master, marathon)
    return Stack(module_cluster, master, marathon, gateway)


def _app(app_id: str, cmd: str, instances: int = 1) -> JSONDict:
    return {
        "id": app_id,
        "cmd": cmd,
        "cpus": 0.01,
        "mem": 16,
        "instances": instances,
        "portDefinitions": [],
    }


def _running_task(stack: Stack, app_id: str) -> JSONDict:
    """The app's running task, once its deployment is over."""

    def running() -> JSONDict | None:
        app = stack.get(f"/service/marathon/v2/apps{app_id}", params={"embed": "app.tasks"})
        body = app.json()["app"]
        if body["deployments"]:
            return None
        return next((t for t in body["tasks"] if t["state"] == "TASK_RUNNING"), None)

    return wait_for(running, f"{app_id} to run\n{stack.cluster.logs()}")


# ------------------------------------------------------------------ documents


def test_cluster_documents_have_the_dcos_shapes(stack: Stack) -> None:
    meta = stack.get("/metadata")
    assert meta.status_code == 200
    assert meta.headers["Content-Type"] == "application/json"
    cluster_id = meta.json()["CLUSTER_ID"]
    assert uuid.UUID(cluster_id).version == 4
    assert cluster_id == str(uuid.UUID(cluster_id))  # lower-case, canonical
    assert meta.json()["PUBLIC_IPV4"] == "127.0.0.1"
    assert (stack.gateway.data_dir / "cluster-id").read_text().strip() == cluster_id

    version = stack.get("/dcos-metadata/dcos-version.json")
    assert version.headers["Cache-Control"] == "no-cache"
    assert {"version", "dcos-image-commit", "bootstrap-id", "dcos-variant"} <= set(version.json())

    ui_config = stack.get("/dcos-metadata/ui-config.json").json()
    assert ui_config["uiConfiguration"]["plugins"]["mesos"]["logging-strategy"] == "logrotate"

    # The CLI's authentication probe: 200 means "no login needed".
    head = requests.head(stack.gateway.url + "/pkgpanda/active.buildinfo.full.json", timeout=10)
    assert head.status_code == 200
    assert "mesos" in stack.get("/pkgpanda/active.buildinfo.full.json").json()

    assert stack.get("/acs/api/v1/auth/providers").json() == {}
    assert stack.get("/berth-ui.json").json() == {
        "marathon": "/service/marathon",
        "mesos": "/mesos",
        "agent": "/agent/{id}",
    }
    health = stack.get("/health")
    assert health.status_code == 200
    assert health.json()["cluster_id"] == cluster_id


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/capabilities", 404),  # so `dcos task log` reads sandboxes through the files API
        ("/cluster/v1/links", 404),
        ("/ca/dcos-ca.crt", 404),
        ("/service/no-such-service/x", 404),
        ("/mesos_dns/v1/version", 503),
        ("/system/health/v1/units", 404),
        ("/agent/bad$id/state", 400),
        ("/agent/", 404),
        ("/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/no-such-file.js", 404),
    ],
)
def test_bad_or_unserved_paths_get_a_clear_4xx_or_503(stack: Stack, path: str, status: int) -> None:
    r = stack.get(path)
    assert r.status_code == status, r.text
    assert r.json()["message"]


def test_local_documents_refuse_writes(stack: Stack) -> None:
    r = requests.post(stack.gateway.url + "/metadata", timeout=10)
    assert r.status_code == 405
    assert "GET" in r.json()["message"]


def test_master_and_framework_names_are_answered_from_the_masters_state(stack: Stack) -> None:
    state = stack.master.state()
    hosts = stack.get("/mesos_dns/v1/hosts/master.mesos").json()
    assert hosts == [{"host": "master.mesos.", "ip": state["hostname"]}]
    marathon = next(f for f in state["frameworks"] if f["name"] == "marathon")
    hosts = stack.get("/mesos_dns/v1/hosts/marathon.mesos").json()
    assert hosts == [{"host": "marathon.mesos.", "ip": marathon["hostname"]}]
    assert stack.get("/mesos_dns/v1/hosts/web.marathon.mesos").status_code == 503


def test_metrics_count_requests(stack: Stack) -> None:
    stack.get("/service/marathon/v2/info")
    text = stack.get("/metrics").text
    assert "berth_gateway_requests_proxied_marathon" in text


# ------------------------------------------------------------------ web UI


def test_start_page_and_ui_files(stack: Stack) -> None:
    start = stack.get("/")
    assert start.status_code == 200
    assert start.headers["Content-Type"].startswith("text/html")
    try:
        from berth.ui import STATIC_DIR
    except ImportError:  # no web UI installed: a page listing the APIs
        assert "/service/marathon" in start.text
        return
    static = Path(STATIC_DIR)
    assert start.content == (static / "index.html").read_bytes()
    some_file = next(p for p in sorted(static.rglob("*")) if p.is_file() and p.suffix != ".html")
    relative = some_file.relative_to(static).as_posix()
    served = stack.get("/" + relative)
    assert served.status_code == 200
    assert served.content == some_file.read_bytes()


# ------------------------------------------------------------------ marathon


def test_marathon_redirects_keep_the_query(stack: Stack) -> None:
    r = stack.get("/marathon?embed=apps.tasks")
    assert (r.status_code, r.headers["Location"]) == (307, "/marathon/?embed=apps.tasks")
    r = stack.get("/service/marathon")
    assert (r.status_code, r.headers["Location"]) == (301, "/service/marathon/")


@pytest.mark.parametrize("prefix", ["/service/marathon", "/marathon"])
def test_marathon_answers_through_both_prefixes_as_it_does_directly(
    stack: Stack, prefix: str
) -> None:
    direct = stack.marathon.get("/v2/info")
    proxied = stack.get(prefix + "/v2/info")
    assert proxied.status_code == 200
    assert proxied.json() == direct.json()
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
    missing = stack.get(prefix + "/v2/apps/no-such-app")
    assert missing.status_code == 404
    assert missing.json() == {"message": "App '/no-such-app' does not exist"}


def test_app_lifecycle_through_the_gateway(stack: Stack) -> None:
    base = stack.gateway.url + "/service/marathon"
    created = requests.post(base + "/v2/apps", json=_app("/gw-life", "sleep 3600"), timeout=10)
    assert created.status_code == 201, created.text
    # Redirects and links to marathon itself stay under the gateway's prefix.
    assert created.headers["Location"] == "/service/marathon/v2/apps/gw-life"
    assert created.json()["deployments"][0]["id"] == created.headers["Marathon-Deployment-Id"]
    task = _running_task(stack, "/gw-life")
    assert task["appId"] == "/gw-life"
    scaled = requests.put(base + "/v2/apps/gw-life", json={"instances": 0}, timeout=10)
    assert scaled.status_code == 200, scaled.text
    assert requests.delete(base + "/v2/apps/gw-life", timeout=10).status_code == 200


def test_marathon_event_stream_is_passed_through_unbuffered(stack: Stack) -> None:
    url = stack.gateway.url + "/service/marathon/v2/events?event_type=api_post_event"
    with requests.get(
        url, headers={"Accept": "text/event-stream"}, stream=True, timeout=(5, 30)
    ) as events:
        assert events.status_code == 200
        assert events.headers["Content-Type"].startswith("text/event-stream")
        # The event is produced only after the stream is open: it can only arrive if the
        # gateway passes each chunk on as it comes.
        created = requests.post(
            stack.gateway.url + "/service/marathon/v2/apps",
            json=_app("/gw-events", "sleep 3600", instances=0),
            timeout=10,
        )
        assert created.status_code == 201
        seen = ""
        for line in events.iter_lines(decode_unicode=True):
            seen += line + "\n"
            if line.startswith("data:") and "/gw-events" in line:
                break
        assert "event: api_post_event" in seen


# ------------------------------------------------------------------ mesos


def test_master_api_through_the_gateway(stack: Stack) -> None:
    direct = stack.master.state()
    proxied = stack.get("/mesos/master/state").json()
    assert proxied["id"] == direct["id"]
    assert [s["id"] for s in proxied["slaves"]] == [s["id"] for s in direct["slaves"]]
    assert stack.get("/mesos/state-summary").json()["hostname"] == direct["hostname"]
    assert stack.get("/mesos").headers["Location"] == "/mesos/"


def test_scheduler_api_stream_through_the_gateway(stack: Stack) -> None:
    framework = Framework(stack.gateway.url + "/mesos", name="through-gateway")
    subscribed = framework.subscribe()
    assert subscribed["subscribed"]["framework_id"]["value"] == framework.framework_id
    assert framework.stream_id
    # Calls (with Mesos-Stream-Id) go through too; offers arrive on the stream.
    offers = framework.offers()
    framework.decline(offers[0], refuse_seconds=60)

    def connected() -> bool | None:
        for fw in stack.master.state()["frameworks"]:
            if fw["id"] == framework.framework_id:
                return bool(fw["connected"])
        return None

    assert connected()
    # When the client goes away, so does the gateway's upstream connection: the master
    # sees the framework disconnect.
    framework.disconnect()
    wait_for(lambda: connected() is False, "the master to see the framework disconnect")
    framework.subscribe()  # and it can come back through the gateway
    framework.teardown()


def test_raw_recordio_subscribe(stack: Stack) -> None:
    body = {
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"user": "root", "name": "raw-recordio"}},
    }
    with requests.post(
        stack.gateway.url + "/mesos/api/v1/scheduler",
        json=body,
        headers={"Accept": "application/json"},
        stream=True,
        timeout=(5, 30),
    ) as r:
        assert r.status_code == 200
        assert r.headers["Mesos-Stream-Id"]
        decoder = Decoder()
        records: list[bytes] = []
        for chunk in r.iter_content(chunk_size=None):
            records += decoder.feed(chunk)
            if records:
                break
        first = json.loads(records[0])
        assert first["type"] == "SUBSCRIBED"
        assert first["subscribed"]["framework_id"]["value"]


# ------------------------------------------------------------------ agents


def test_agent_state_and_files_through_both_prefixes(stack: Stack) -> None:
    created = requests.post(
        stack.gateway.url + "/service/marathon/v2/apps",
        json=_app("/gw-files", "echo hello-from-the-sandbox; sleep 3600"),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    task = _running_task(stack, "/gw-files")
    agent_id = task["slaveId"]
    for prefix in ("/agent", "/slave"):
        state = stack.get(f"{prefix}/{agent_id}/state").json()
        assert state["id"] == agent_id
    state = stack.get(f"/agent/{agent_id}/state.json").json()
    directory = next(
        e["directory"]
        for fw in state["frameworks"]
        for e in fw["executors"]
        if any(t["id"] == task["id"] for t in e["tasks"])
    )

    def stdout() -> str | None:
        r = stack.get(
            f"/slave/{agent_id}/files/read.json",
            params={"path": f"{directory}/stdout", "offset": 0, "length": 4096},
        )
        data = str(r.json()["data"])
        return data if "hello-from-the-sandbox" in data else None

    wait_for(stdout, "the task's stdout through the gateway")
    assert stack.get(f"/agent/{agent_id}").headers["Location"] == f"/agent/{agent_id}/"
    requests.delete(stack.gateway.url + "/service/marathon/v2/apps/gw-files", timeout=10)


def test_an_agent_that_joins_later_is_found(stack: Stack) -> None:
    assert stack.get(f"/agent/{stack.agent_id()}/state").status_code == 200  # cache filled
    newcomer = stack.cluster.start_agent(stack.master, containerizers="process")
    new_id = newcomer.state()["id"]
    # Unknown to the cached view: the gateway asks the master again.
    state = wait_for(
        lambda: (r := stack.get(f"/agent/{new_id}/state")).status_code == 200 and r.json(),
        "the gateway to find the new agent",
    )
    assert state["id"] == new_id


def test_cluster_id_survives_a_restart(stack: Stack) -> None:
    first = stack.get("/metadata").json()["CLUSTER_ID"]
    again = stack.cluster.start_gateway(
        stack.master, stack.marathon, data_dir=stack.gateway.data_dir
    )
    assert again.get("/metadata").json()["CLUSTER_ID"] == first
    again.process.stop()


def test_unknown_agent_is_a_404_naming_it(stack: Stack) -> None:
    r = stack.get("/agent/no-such-agent-S99/state")
    assert r.status_code == 404
    assert "no-such-agent-S99" in r.json()["message"]


# ------------------------------------------------------------------ failures


def test_marathon_down_is_a_502_naming_it(stack: Stack) -> None:
    lonely = stack.cluster.start_gateway(stack.master)  # its marathon port is closed
    r = lonely.get("/service/marathon/v2/apps")
    assert r.status_code == 502
    message = r.json()["message"]
    assert message.startswith("marathon at 127.0.0.1:")
    assert message.endswith("is not answering")
    # The rest of the gateway is unaffected.
    assert lonely.get("/mesos/master/state").status_code == 200
    lonely.process.stop()


# ------------------------------------------------------------------ byte-exact forwarding


BIG = bytes(range(256)) * 12288  # 3 MiB


@dataclass
class Recorded:
    request_line: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Recorder:
    """A loopback HTTP server that records each request and answers with a fixed reply."""

    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    holder: list[Recorder] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while size := int(self.rfile.readline().strip(), 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            holder[0].requests.append(Recorded(self.requestline, list(self.headers.items()), body))
            if self.path.endswith("/big"):
                self._big()
                return
            reply = b"recorded"
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.send_header("Connection", "keep-alive, X-Secret")
            self.send_header("X-Secret", "hop-by-hop")
            self.send_header("Location", f"http://127.0.0.1:{holder[0].port}/elsewhere")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)

        def _big(self) -> None:
            """BIG, in chunks of unannounced total length."""
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Encoding", "gzip")  # not really: must pass untouched
            self.end_headers()
            for i in range(0, len(BIG), 100_000):
                piece = BIG[i : i + 100_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_PUT = do_HEAD = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    holder.append(Recorder(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()


def test_requests_are_forwarded_byte_for_byte(stack: Stack, recorder: Recorder) -> None:
    fake = Marathon(
        Process("recorder", [], stack.cluster.root / "recorder.log"), recorder.port, Path(".")
    )
    gateway = stack.cluster.start_gateway(stack.master, fake)
    raw_target = "/service/marathon/v2/apps/a%2Fb%20c?x=%2F&y=1&y=2&z"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as s:
        s.sendall(
            (
                f"GET {raw_target} HTTP/1.1\r\nHost: gw.example:80\r\n"
                "Connection: keep-alive, X-Private\r\nX-Private: 1\r\nX-Custom: kept\r\n"
                "X-Forwarded-For: 10.9.9.9\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"recorded" not in reply:
            chunk = s.recv(65536)
            assert chunk, reply
            reply += chunk
    head = reply.split(b"\r\n\r\n")[0].decode().lower()
    assert "x-secret" not in head  # named in the upstream's Connection header
    assert "location: /service/marathon/elsewhere" in head
    got = recorder.requests[-1]
    assert got.request_line == "GET /v2/apps/a%2Fb%20c?x=%2F&y=1&y=2&z HTTP/1.1"
    headers = {k.lower(): v for k, v in got.headers}
    assert headers["x-custom"] == "kept"
    assert "x-private" not in headers
    assert headers["host"] == f"127.0.0.1:{recorder.port}"
    assert headers["x-forwarded-host"] == "gw.example:80"
    assert headers["x-forwarded-for"] == "10.9.9.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-prefix"] == "/service/marathon"

    # A chunked upload of unknown length streams through; a sized one keeps its size.
    big = bytes(range(256)) * 8192  # 2 MiB

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = requests.post(gateway.url + "/marathon/upload", data=pieces(), timeout=30)
    assert r.status_code == 200
    assert recorder.requests[-1].body == big
    r = requests.put(gateway.url + "/marathon/upload", data=b"{}", timeout=10)
    assert r.status_code == 200
    assert recorder.requests[-1].body == b"{}"
    assert ("content-length", "2") in [(k.lower(), v) for k, v in recorder.requests[-1].headers]

    # A big response of unknown length streams back unchanged (no decompression either).
    r = requests.get(gateway.url + "/marathon/big", stream=True, timeout=30)
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.raw.read(decode_content=False) == BIG
    headed = requests.head(gateway.url + "/marathon/small", timeout=10)
    assert (headed.status_code, headed.headers["Content-Length"]) == (200, "8")
    assert recorder.requests[-1].request_line == "HEAD /small HTTP/1.1"
    gateway.process.stop()
