"""Route resolution (pure): every path gets exactly one answer, prefixes are stripped
byte for byte, and no path reaches outside the web UI's folder."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.gateway.routes import (
    DNS_NOT_RUNNING,
    SERVICE_NOT_FOUND,
    DnsHost,
    Local,
    Proxy,
    Redirect,
    Reject,
    ToAgent,
    Ui,
    parse_pid,
    resolve,
    rewrite_location,
    ui_target,
)

# Raw (percent-encoded) path text as it arrives: printable ASCII without '?' and '#'.
_raw = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#"),
    max_size=40,
)


@given(_raw)
def test_every_path_resolves_without_raising(rest: str) -> None:
    assert resolve("/" + rest) is not None


@pytest.mark.parametrize(
    ("prefix", "upstream"),
    [("/marathon", "marathon"), ("/service/marathon", "marathon"), ("/mesos", "master")],
)
@given(rest=_raw)
def test_proxied_prefixes_are_stripped_exactly(prefix: str, upstream: str, rest: str) -> None:
    assert resolve(f"{prefix}/{rest}") == Proxy(upstream, "/" + rest, prefix)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/marathon", 307), ("/service/marathon", 301), ("/mesos", 307)],
)
@given(query=_raw)
def test_bare_prefixes_redirect_with_the_query_kept(path: str, status: int, query: str) -> None:
    suffix = f"?{query}" if query else ""
    assert resolve(path, query) == Redirect(f"{path}/{suffix}", status)


@pytest.mark.parametrize("prefix", ["/slave", "/agent"])
def test_agent_routes(prefix: str) -> None:
    agent = "4f9c3c4e-0000-4000-8000-000000000000-S12"
    assert resolve(f"{prefix}/{agent}/files/read.json") == ToAgent(
        agent, "/files/read.json", f"{prefix}/{agent}"
    )
    assert resolve(f"{prefix}/{agent}", "x=1") == Redirect(f"{prefix}/{agent}/?x=1", 301)
    assert resolve(f"{prefix}/{agent}/") == ToAgent(agent, "/", f"{prefix}/{agent}")
    bad = resolve(f"{prefix}/a%20b/state")
    assert isinstance(bad, Reject)
    assert bad.status == 400
    assert isinstance(resolve(f"{prefix}/"), Reject)
    assert isinstance(resolve(prefix), Reject)


@given(st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True), _raw)
def test_any_valid_agent_id_is_routed_to_that_agent(agent: str, rest: str) -> None:
    # Whether such an agent exists is the master's to say, not the route table's.
    assert resolve(f"/agent/{agent}/{rest}") == ToAgent(agent, "/" + rest, f"/agent/{agent}")


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/health", "health"),
        ("/metrics", "metrics"),
        ("/metadata", "metadata"),
        ("/dcos-metadata/dcos-version.json", "dcos-version"),
        ("/dcos-metadata/ui-config.json", "ui-config"),
        ("/pkgpanda/active.buildinfo.full.json", "buildinfo"),
        ("/acs/api/v1/auth/providers", "auth-providers"),
        ("/berth-ui.json", "berth-ui"),
    ],
)
def test_local_documents(path: str, page: str) -> None:
    assert resolve(path) == Local(page)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/capabilities", 404, "Cosmos"),
        ("/ca/dcos-ca.crt", 404, "Enterprise"),
        ("/cluster/v1/links", 404, "Enterprise"),
        ("/service/other/x", 404, SERVICE_NOT_FOUND),
        ("/service/other", 404, SERVICE_NOT_FOUND),
        ("/mesos_dns/v1/version", 503, DNS_NOT_RUNNING),
        ("/mesos_dns", 503, DNS_NOT_RUNNING),
        ("/acs/api/v1/users", 404, "open cluster"),
        ("/dcos-metadata/other.json", 404, "metadata"),
        ("/system/health/v1", 404, "not served"),
    ],
)
def test_unserved_apis_are_refused_clearly(path: str, status: int, message: str) -> None:
    target = resolve(path)
    assert isinstance(target, Reject)
    assert target.status == status
    assert message in target.message


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/mesos_dns/v1/hosts/master.mesos", "master.mesos"),
        ("/mesos_dns/v1/hosts/Marathon.Mesos.", "marathon.mesos"),
    ],
)
def test_dns_host_lookups(path: str, name: str) -> None:
    assert resolve(path) == DnsHost(name)
    assert isinstance(resolve("/mesos_dns/v1/hosts/"), Reject)
    assert isinstance(resolve("/mesos_dns/v1/hosts/a/ports"), Reject)


def test_everything_else_is_a_web_ui_file() -> None:
    assert resolve("/") == Ui("index.html")
    assert resolve("/js/app.js") == Ui("js/app.js")
    assert resolve("/apps/") == Ui("apps/index.html")
    assert resolve("/marathonx") == Ui("marathonx")  # only whole segments are prefixes


@given(st.lists(st.sampled_from(["a", "..", ".", "%2e%2e", "%2E.", "b%2f..", "", "c"]), max_size=6))
def test_no_ui_path_climbs_out_of_the_folder(segments: list[str]) -> None:
    target = ui_target("/" + "/".join(segments))
    if isinstance(target, Ui):
        assert not target.path.startswith("/")
        normalized = posixpath.normpath(posixpath.join("/root", target.path))
        assert normalized.startswith("/root/")
        assert ".." not in target.path.split("/")
    else:
        assert target.status == 400


def test_ui_refuses_nul_and_backslash() -> None:
    assert isinstance(ui_target("/a%00b"), Reject)
    assert isinstance(ui_target("/a\\..\\b"), Reject)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:8080/v2/apps/a", "/marathon/v2/apps/a"),
        ("http://localhost:8080/x?y=1", "/marathon/x?y=1"),
        ("http://127.0.0.1:9999/x", "http://127.0.0.1:9999/x"),
        ("/v2/apps", "/marathon/v2/apps"),
        ("relative/path", "relative/path"),
        ("ftp://127.0.0.1:8080/x", "ftp://127.0.0.1:8080/x"),
    ],
)
def test_rewrite_location(location: str, expected: str) -> None:
    assert rewrite_location(location, "127.0.0.1:8080", "/marathon") == expected


@pytest.mark.parametrize(
    ("pid", "address"),
    [
        ("slave(1)@10.0.0.1:5051", "10.0.0.1:5051"),
        ("master@127.0.0.1:5050", "127.0.0.1:5050"),
        ("slave(1)@host:port", None),
        ("10.0.0.1:5051", None),
        ("", None),
    ],
)
def test_parse_pid(pid: str, address: str | None) -> None:
    assert parse_pid(pid) == address
