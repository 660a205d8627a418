"""Proxy header rewriting (pure): hop-by-hop headers never cross, the rest do, in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from berth.gateway.headers import HOP_BY_HOP, request_headers, response_headers

_name = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)
_value = st.from_regex(r"[ -~]{0,20}", fullmatch=True)
_headers = st.lists(
    st.tuples(st.one_of(_name, st.sampled_from(sorted(HOP_BY_HOP))), _value), max_size=12
)


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(n.encode(), v.encode()) for n, v in headers]


@given(_headers)
def test_request_headers_keep_end_to_end_headers_in_order(headers: list[tuple[str, str]]) -> None:
    out = request_headers(_raw(headers), client="10.0.0.2", scheme="http", prefix="/mesos")
    named = {
        t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",")
    }
    own = {"host", "expect", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
           "x-forwarded-prefix"}  # fmt: skip
    expected = [(n.lower(), v) for n, v in headers if n.lower() not in HOP_BY_HOP | named | own]
    assert [h for h in out if not h[0].startswith("x-forwarded-")] == expected
    assert ("x-forwarded-proto", "http") in out
    assert ("x-forwarded-prefix", "/mesos") in out
    assert dict(out)["x-forwarded-for"].endswith("10.0.0.2")


@given(_headers)
def test_response_headers_drop_hop_by_hop_date_and_server(headers: list[tuple[str, str]]) -> None:
    out = response_headers(_raw(headers), upstream="127.0.0.1:1", prefix="/p")
    names = {n.decode() for n, _ in out}
    assert not names & HOP_BY_HOP
    assert not names & {"date", "server"}


def test_forwarded_for_chain_is_extended() -> None:
    out = dict(
        request_headers(
            [(b"X-Forwarded-For", b"1.1.1.1"), (b"X-Forwarded-For", b"2.2.2.2")],
            client="3.3.3.3",
            scheme="https",
            prefix="/marathon",
        )
    )
    assert out["x-forwarded-for"] == "1.1.1.1, 2.2.2.2, 3.3.3.3"
    assert out["x-forwarded-proto"] == "https"
    assert "x-forwarded-host" not in out  # the client sent no Host


def test_connection_named_headers_are_dropped_both_ways() -> None:
    raw = [(b"Connection", b"keep-alive, X-Hop"), (b"X-Hop", b"1"), (b"X-End", b"2")]
    assert ("x-end", "2") in request_headers(raw, client=None, scheme="http", prefix="/m")
    assert all(
        n != "x-hop" for n, _ in request_headers(raw, client=None, scheme="http", prefix="/m")
    )
    assert response_headers(raw, upstream="h:1", prefix="/m") == [(b"x-end", b"2")]
