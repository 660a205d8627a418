"""The agent's /files API, exercised over HTTP against a real uvicorn server.

One server per module serves ``<tmp>/work`` (a real sandbox made by ``create_sandbox``)
plus a virtual ``/slave/log``; tests that need special files create them under their
own directory in the work dir.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import string
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.agent.files_api import READ_CAP, files_router
from berth.agent.sandbox import create_sandbox


@dataclass(frozen=True)
class Served:
    url: str
    work: Path
    sandbox: Path
    log: Path
    outside: Path


class _ServerThread:
    """uvicorn on a free loopback port, in a thread with its own event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn died while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("files")
    work = base / "work"
    sandbox = create_sandbox(work, "M-S0", "M-0000", "web.1", "c1")
    (sandbox / "stdout").write_text("line 1\nline 2\n")
    (sandbox / "stderr").write_bytes(b"")
    (sandbox / "dir").mkdir()
    (sandbox / "dir" / "a.txt").write_text("a")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not serve")
    log = base / "agent.log"
    log.write_text("agent started\n")
    roots = [work]

    app = FastAPI()
    app.include_router(files_router(lambda: roots, virtual={"/slave/log": log}))
    with _ServerThread(app) as url:
        yield Served(url, work, sandbox, log, outside)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def own_dir(served: Served, request: pytest.FixtureRequest) -> Path:
    """A directory inside the served work dir for this test alone."""
    name: str = request.node.name
    path = served.work / "tests" / name.replace("/", "_")
    path.mkdir(parents=True)
    return path


def get(http: requests.Session, served: Served, endpoint: str, **params: Any) -> requests.Response:
    return http.get(f"{served.url}/files/{endpoint}", params=params, timeout=30)


def raw_get(http: requests.Session, served: Served, endpoint: str, query: str) -> requests.Response:
    """Send the query string exactly as written (requests would re-encode params)."""
    return http.get(f"{served.url}/files/{endpoint}?{query}", timeout=30)


# --------------------------------------------------------------------------------------
# read


def test_read_whole_file(http: requests.Session, served: Served) -> None:
    r = get(http, served, "read", path=f"{served.sandbox}/stdout", offset=0)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"data": "line 1\nline 2\n", "offset": 0}


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (0, 4, {"data": "line", "offset": 0}),
        (5, 3, {"data": "1\nl", "offset": 5}),
        (7, -1, {"data": "line 2\n", "offset": 7}),
        (7, 0, {"data": "", "offset": 7}),
        (7, 10**30, {"data": "line 2\n", "offset": 7}),
        # -1 asks for the size (how clients start tailing); absent offset means -1 too.
        (-1, 0, {"data": "", "offset": 14}),
        (-1, 5, {"data": "", "offset": 14}),
        (None, None, {"data": "", "offset": 14}),
        # At or past the end: nothing to read; Mesos answers with the size.
        (14, None, {"data": "", "offset": 14}),
        (15, 3, {"data": "", "offset": 14}),
        (2**63, None, {"data": "", "offset": 14}),
        (10**40, 10**40, {"data": "", "offset": 14}),
    ],
)
def test_read_offsets_and_lengths(
    http: requests.Session,
    served: Served,
    offset: int | None,
    length: int | None,
    expected: dict[str, Any],
) -> None:
    params: dict[str, Any] = {"path": f"{served.sandbox}/stdout"}
    if offset is not None:
        params["offset"] = offset
    if length is not None:
        params["length"] = length
    r = get(http, served, "read", **params)
    assert r.status_code == 200, r.text
    assert r.json() == expected


def test_read_is_capped_at_64_kib(http: requests.Session, own_dir: Path, served: Served) -> None:
    big = own_dir / "big"
    big.write_bytes(string.ascii_letters.encode() * 5000)  # 260 000 bytes
    r = get(http, served, "read", path=str(big), offset=0)
    assert r.json()["data"] == big.read_text()[:READ_CAP]
    r = get(http, served, "read", path=str(big), offset=100, length=10**6)
    assert r.json() == {"data": big.read_text()[100 : 100 + READ_CAP], "offset": 100}
    assert READ_CAP == 65536


def test_tailing_like_the_dcos_cli(http: requests.Session, own_dir: Path, served: Served) -> None:
    log = own_dir / "stdout"
    log.write_text("old\n")
    end = get(http, served, "read.json", path=str(log), offset=-1, length=0).json()
    assert end == {"data": "", "offset": 4}
    with log.open("a") as f:
        f.write("new line\n")
    more = get(http, served, "read.json", path=str(log), offset=end["offset"], length=100)
    assert more.json() == {"data": "new line\n", "offset": 4}


def test_binary_data_is_decoded_with_replacement(
    http: requests.Session, own_dir: Path, served: Served
) -> None:
    blob = own_dir / "blob"
    blob.write_bytes(b"ok \xff\xfe\x00\x01 \xe2\x82")  # invalid UTF-8, NUL, a cut sequence
    r = get(http, served, "read", path=str(blob), offset=0)
    assert r.status_code == 200
    data = r.json()["data"]
    assert data.startswith("ok ")
    assert "\ufffd" in data
    assert "\x00\x01" in data


def test_read_jsonp(http: requests.Session, served: Served) -> None:
    r = get(http, served, "read", path=f"{served.sandbox}/stdout", offset=0, length=4, jsonp="cb")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.text == 'cb({"data":"line","offset":0});'
    r = get(http, served, "read", path=f"{served.sandbox}/stdout", jsonp="<script>")
    assert r.status_code == 400


def test_virtual_mount_and_latest_symlink(http: requests.Session, served: Served) -> None:
    r = get(http, served, "read", path="/slave/log", offset=0)
    assert r.json() == {"data": "agent started\n", "offset": 0}
    latest = served.sandbox.parent / "latest" / "stdout"
    r = get(http, served, "read", path=str(latest), offset=0, length=6)
    assert r.json() == {"data": "line 1", "offset": 0}


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        ("", 400, "Expecting 'path=value' in query.\n"),
        ("path=", 400, "Expecting 'path=value' in query.\n"),
        ("path={out}&offset=abc", 400, "Failed to parse offset: 'abc' is not a number.\n"),
        ("path={out}&length=1.5", 400, "Failed to parse length: '1.5' is not a number.\n"),
        ("path={out}&offset=", 400, "Failed to parse offset: '' is not a number.\n"),
        ("path={out}&offset=-2", 400, "Negative offset provided: -2.\n"),
        ("path={out}&length=-7", 400, "Negative length provided: -7.\n"),
        ("path={out}&offset=" + "9" * 6000, 400, None),  # beyond int()'s digit limit
        ("path={out}&offset=%EF%BC%93", 400, None),  # a full-width digit is not a number
        ("path={sandbox}", 400, "Cannot read a directory.\n"),
        ("path={sandbox}/nope", 404, None),
        ("path=relative/stdout", 404, None),
        ("path={sandbox}/stdout%00.txt", 404, None),
        ("path=/etc/passwd", 403, None),
        # The sandbox is 8 levels below the served work dir: 8 ".." stay inside it.
        ("path={sandbox}/" + "../" * 8 + "etc/passwd", 404, None),
        ("path={sandbox}/" + "../" * 40 + "etc/passwd", 403, None),
        ("path={sandbox}/" + "%2e%2e/" * 40 + "etc/passwd", 403, None),
        ("path={sandbox}" + "%2F%2E%2E" * 40 + "%2Fetc%2Fpasswd", 403, None),
        ("path={sandbox}/%252e%252e/stdout", 404, None),  # double-encoded: a literal "%2e%2e"
        ("path={outside}/secret", 403, None),
    ],
)
def test_read_errors(
    http: requests.Session, served: Served, query: str, status: int, body: str | None
) -> None:
    query = query.format(
        out=f"{served.sandbox}/stdout", sandbox=served.sandbox, outside=served.outside
    )
    for endpoint in ("read", "read.json"):
        r = raw_get(http, served, endpoint, query)
        assert r.status_code == status, (query, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        if body is not None:
            assert r.text == body


def test_symlinks_planted_in_a_sandbox_do_not_escape(
    http: requests.Session, own_dir: Path, served: Served
) -> None:
    os.symlink("/etc", own_dir / "etc")
    os.symlink("/etc/passwd", own_dir / "passwd")
    os.symlink(served.outside, own_dir / "out")
    os.symlink("../../../outside/secret", own_dir / "rel")
    for path in ("etc/passwd", "passwd", "out/secret", "rel", "etc/../etc/hostname"):
        r = get(http, served, "read", path=f"{own_dir}/{path}", offset=0)
        assert r.status_code == 403, path
        assert "do not serve" not in r.text
        assert "root:" not in r.text
    assert get(http, served, "download", path=f"{own_dir}/passwd").status_code == 403
    assert get(http, served, "browse", path=f"{own_dir}/etc").status_code == 403


def test_a_symlink_loop_is_not_found(http: requests.Session, own_dir: Path, served: Served) -> None:
    os.symlink("loop", own_dir / "loop")
    os.symlink("b", own_dir / "a")
    os.symlink("a", own_dir / "b")
    for name in ("loop", "a", "a/x"):
        for endpoint in ("read", "browse", "download"):
            r = get(http, served, endpoint, path=f"{own_dir}/{name}")
            assert r.status_code == 404, (endpoint, name, r.text)


def test_a_fifo_is_refused_not_hung_on(
    http: requests.Session, own_dir: Path, served: Served
) -> None:
    os.mkfifo(own_dir / "pipe")
    r = get(http, served, "read", path=str(own_dir / "pipe"), offset=0)
    assert r.status_code == 400
    assert get(http, served, "download", path=str(own_dir / "pipe")).status_code == 400


# --------------------------------------------------------------------------------------
# browse


def test_browse_lists_entries_in_mesos_shape(http: requests.Session, served: Served) -> None:
    r = get(http, served, "browse", path=str(served.sandbox))
    assert r.status_code == 200
    listing = r.json()
    by_name = {e["path"].rsplit("/", 1)[1]: e for e in listing}
    assert sorted(by_name) == ["dir", "stderr", "stdout"]
    assert [e["path"] for e in listing] == sorted(e["path"] for e in listing)
    for entry in listing:
        assert set(entry) == {"path", "nlink", "size", "mtime", "mode", "uid", "gid"}
        assert isinstance(entry["mtime"], float)
        assert isinstance(entry["uid"], str)
        assert isinstance(entry["gid"], str)
    stdout = by_name["stdout"]
    st_ = (served.sandbox / "stdout").stat()
    assert stdout["path"] == f"{served.sandbox}/stdout"
    assert stdout["size"] == 14
    assert stdout["nlink"] == 1
    assert stdout["mode"] == stat.filemode(st_.st_mode)
    assert stdout["mode"].startswith("-rw")
    assert stdout["mtime"] == pytest.approx(st_.st_mtime)
    assert by_name["dir"]["mode"].startswith("d")
    if os.getuid() == 0:
        assert stdout["uid"] == "root"


def test_browse_paths_stay_in_the_clients_namespace(http: requests.Session, served: Served) -> None:
    latest = served.sandbox.parent / "latest"
    listing = get(http, served, "browse.json", path=f"{latest}/").json()
    assert f"{latest}/stdout" in [e["path"] for e in listing]
    runs = get(http, served, "browse", path=str(served.sandbox.parent)).json()
    latest_entry = next(e for e in runs if e["path"].endswith("/latest"))
    assert latest_entry["mode"].startswith("d")  # an inside link is followed, as in Mesos


def test_browse_shows_outside_links_as_links(
    http: requests.Session, own_dir: Path, served: Served
) -> None:
    os.symlink("/etc/shadow", own_dir / "shadow")
    (entry,) = get(http, served, "browse", path=str(own_dir)).json()
    assert entry["mode"].startswith("l")
    assert entry["size"] == len("/etc/shadow")


def test_browse_odd_names(http: requests.Session, own_dir: Path, served: Served) -> None:
    (own_dir / "caf\u00e9 & co").write_text("x")
    os.close(os.open(os.fsencode(own_dir) + b"/bad\xffname", os.O_CREAT | os.O_WRONLY))
    r = get(http, served, "browse", path=str(own_dir))
    assert r.status_code == 200
    names = sorted(e["path"].rsplit("/", 1)[1] for e in r.json())
    assert names == ["bad\ufffdname", "caf\u00e9 & co"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("{sandbox}/stdout", 404),  # not a directory
        ("{sandbox}/nope", 404),
        ("/etc", 403),
        ("{sandbox}" + "/.." * 40, 403),
        ("{outside}", 403),
        ("", 400),
    ],
)
def test_browse_errors(http: requests.Session, served: Served, path: str, status: int) -> None:
    path = path.format(sandbox=served.sandbox, outside=served.outside)
    r = get(http, served, "browse", path=path)
    assert r.status_code == status, r.text


# --------------------------------------------------------------------------------------
# download and debug


def test_download_streams_raw_bytes(http: requests.Session, own_dir: Path, served: Served) -> None:
    payload = os.urandom(1_500_000)
    (own_dir / "blob.bin").write_bytes(payload)
    r = get(http, served, "download", path=str(own_dir / "blob.bin"))
    assert r.status_code == 200
    assert r.content == payload
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="blob.bin"'
    assert r.headers["content-length"] == str(len(payload))


def test_download_names(http: requests.Session, own_dir: Path, served: Served) -> None:
    (own_dir / 'r\u00e9sum\u00e9 "1".txt').write_text("x")
    r = get(http, served, "download.json", path=str(own_dir / 'r\u00e9sum\u00e9 "1".txt'))
    assert r.status_code == 200
    assert r.headers["content-disposition"] == (
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%221%22.txt"
    )
    r = get(http, served, "download", path="/slave/log")
    assert r.content == b"agent started\n"
    assert r.headers["content-disposition"] == 'attachment; filename="agent.log"'


@pytest.mark.parametrize(
    ("path", "status"),
    [("{sandbox}", 400), ("{sandbox}/nope", 404), ("/etc/passwd", 403), ("", 400)],
)
def test_download_errors(http: requests.Session, served: Served, path: str, status: int) -> None:
    r = get(http, served, "download", path=path.format(sandbox=served.sandbox))
    assert r.status_code == status


def test_debug_shows_the_mapping(http: requests.Session, served: Served) -> None:
    for endpoint in ("debug", "debug.json"):
        r = get(http, served, endpoint)
        assert r.json() == {str(served.work): str(served.work), "/slave/log": str(served.log)}


async def test_concurrent_reads_over_aiohttp(served: Served) -> None:
    # Reads run in worker threads: many at once must all be answered correctly.
    async with aiohttp.ClientSession() as session:

        async def read(offset: int) -> Any:
            params = {"path": f"{served.sandbox}/stdout", "offset": str(offset), "length": "1"}
            async with session.get(f"{served.url}/files/read", params=params) as r:
                return await r.json()

        results = await asyncio.gather(*(read(i) for i in range(14)))
    assert "".join(r["data"] for r in results) == "line 1\nline 2\n"


# --------------------------------------------------------------------------------------
# fuzz: no query string yields a 5xx

_PATHS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["/", "/slave/log", "/slave/log/x", "/etc/passwd", "..", "/..", "/\x00", "//", "/."]
    ),
    st.lists(st.sampled_from(["..", ".", "", "stdout", "dir", "latest", "%2e", "\x00"])).map(
        lambda parts: "/" + "/".join(parts)
    ),
)
_NUMBERS = st.one_of(
    st.none(),
    st.integers(),
    st.integers(min_value=-3, max_value=20),
    st.text(max_size=12),
    st.sampled_from(["-1", "1e3", "0x10", " 1", "+5", "\u0663", "NaN", "inf"]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(["read", "browse", "download", "read.json", "browse.json"]),
    path=_PATHS,
    inside=st.booleans(),
    offset=_NUMBERS,
    length=_NUMBERS,
    jsonp=st.one_of(st.none(), st.text(max_size=10)),
)
def test_fuzzed_parameters_never_give_a_5xx(
    http: requests.Session,
    served: Served,
    endpoint: str,
    path: str,
    inside: bool,
    offset: object,
    length: object,
    jsonp: str | None,
) -> None:
    params: dict[str, str] = {"path": (str(served.sandbox) + path) if inside else path}
    for key, value in (("offset", offset), ("length", length), ("jsonp", jsonp)):
        if value is not None:
            params[key] = str(value)
    r = http.get(f"{served.url}/files/{endpoint}", params=params, timeout=30)
    assert r.status_code < 500, (params, r.text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=80))
def test_fuzzed_raw_query_strings_never_give_a_5xx(
    http: requests.Session, served: Served, raw: bytes
) -> None:
    # Keep '=', '&' and '%' raw so malformed escapes like "%zz" or "%" reach the server.
    query = urllib.parse.quote_from_bytes(raw, safe="=&%")
    for endpoint in ("read", "browse"):
        r = raw_get(http, served, endpoint, f"path={served.sandbox}/{query}&{query}")
        assert r.status_code < 500, (query, r.text)
