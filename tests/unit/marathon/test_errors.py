"""Error shapes (reference 0, "Error bodies"), pinned one by one, and body decoding."""

from __future__ import annotations

import pytest

from berth.core.errors import BerthError
from berth.marathon.models import (
    EmptyBodyError,
    InvalidJsonError,
    MalformedJsonError,
    MarathonValidationError,
    Violation,
    parse_app,
    parse_json_body,
)


def test_empty_body() -> None:
    for raw in (b"", b"  \n"):
        with pytest.raises(EmptyBodyError) as e:
            parse_json_body(raw)
        body = e.value.body()
        assert (e.value.status, body["message"]) == (400, "Please specify data in JSON format")
        assert isinstance(body["details"], str)


def test_non_json_body_details_is_the_parser_text() -> None:
    with pytest.raises(MalformedJsonError) as e:
        parse_json_body(b'{"id": ')
    body = e.value.body()
    assert (e.value.status, body["message"]) == (400, "Invalid JSON")
    assert isinstance(body["details"], str)
    assert body["details"]


def test_json_bodies_decode() -> None:
    assert parse_json_body(b'[{"id": "a"}]') == [{"id": "a"}]
    assert parse_json_body(b"null") is None


def test_shape_errors_are_422_invalid_json_with_play_codes() -> None:
    with pytest.raises(InvalidJsonError) as e:
        parse_app(parse_json_body(b'{"id": "/a", "cpus": "1", "instances": "2"}'))
    assert e.value.status == 422
    assert e.value.body() == {
        "message": "Invalid JSON",
        "details": [
            {"path": "/instances", "errors": ["error.expected.jsnumber"]},
            {"path": "/cpus", "errors": ["error.expected.jsnumber"]},
        ],
    }


def test_semantic_errors_are_422_object_is_not_valid_one_entry_per_path() -> None:
    error = MarathonValidationError(
        [
            Violation("/a", "first"),
            Violation("/b", "x"),
            Violation("/a", "second"),
            Violation("/a", "first"),
        ]
    )
    assert error.status == 422
    assert error.body() == {
        "message": "Object is not valid",
        "details": [{"path": "/a", "errors": ["first", "second"]}, {"path": "/b", "errors": ["x"]}],
    }
    assert "/a: first" in str(error)


def test_all_errors_are_berth_errors_with_a_status() -> None:
    for cls in (EmptyBodyError, MalformedJsonError, InvalidJsonError, MarathonValidationError):
        assert issubclass(cls, BerthError)


def test_violations_nest_under_a_prefix() -> None:
    assert Violation("/cpus", "m").under("/apps(2)") == Violation("/apps(2)/cpus", "m")
    assert Violation("/", "m").under("/groups(0)/apps(1)") == Violation("/groups(0)/apps(1)", "m")
    assert Violation("/x", "m").under("") == Violation("/x", "m")
