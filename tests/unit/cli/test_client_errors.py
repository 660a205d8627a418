"""Server errors become one readable message (plus one line per detail) and an exit code."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from berth.cli.client.errors import (
    ExitCode,
    ServerRefused,
    Unreachable,
    server_error,
    unreachable,
)


def test_marathon_validation_error_lists_each_path() -> None:
    body = {
        "message": "Object is not valid",
        "details": [
            {"path": "/cpus", "errors": ["error.min"]},
            {"path": "/id", "errors": ["must be absolute", "must not be empty"]},
        ],
    }
    e = server_error(422, "Unprocessable Entity", json.dumps(body).encode(), "application/json")
    assert isinstance(e, ServerRefused)
    assert e.exit_code == ExitCode.FAILED
    assert e.lines() == [
        "error: Object is not valid",
        "  /cpus: error.min",
        "  /id: must be absolute; must not be empty",
    ]


def test_plain_message_and_plain_text() -> None:
    e = server_error(
        404, "Not Found", b'{"message":"App \'/a\' does not exist"}', "application/json"
    )
    assert e.lines() == ["error: App '/a' does not exist"]
    text = server_error(400, "Bad Request", b"Failed to parse offset\n", "text/plain")
    assert text.lines() == ["error: Failed to parse offset"]


def test_a_blocked_change_says_how_to_proceed() -> None:
    body = b'{"message":"App is locked","deployments":[{"id":"d1"}]}'
    e = server_error(409, "Conflict", body, "application/json")
    assert "d1" in e.message
    assert "--force" in e.message


def test_gateway_errors_mean_unreachable() -> None:
    e = server_error(502, "Bad Gateway", b"<html>upstream</html>", "text/html")
    assert isinstance(e, Unreachable)
    assert e.exit_code == ExitCode.UNREACHABLE
    assert e.lines() == ["error: HTTP 502 Bad Gateway (HTTP 502)"]


def test_unreachable_says_start_it() -> None:
    e = unreachable("http://127.0.0.1:8000")
    assert e.exit_code == ExitCode.UNREACHABLE
    [line] = e.lines()
    assert "http://127.0.0.1:8000" in line
    assert "berth up" in line


@given(
    st.integers(400, 599),
    st.binary(max_size=300),
    st.sampled_from(["application/json", "text/plain", "text/html", ""]),
)
def test_any_error_reply_becomes_lines_without_newlines(
    status: int, body: bytes, content_type: str
) -> None:
    e = server_error(status, "Reason", body, content_type)
    lines = e.lines()
    assert lines[0].startswith("error: ")
    assert all("\n" not in line for line in lines)
    assert e.exit_code in (ExitCode.FAILED, ExitCode.UNREACHABLE)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"path": st.text(max_size=20), "errors": st.lists(st.text(max_size=20), max_size=3)}
        ),
        max_size=5,
    )
)
def test_every_detail_gets_its_own_line(details: list[dict[str, object]]) -> None:
    body = json.dumps({"message": "Object is not valid", "details": details}).encode()
    e = server_error(422, "", body, "application/json")
    assert len(e.lines()) == 1 + len(details)
