"""The pure parsing edge of the scheduler API (mesos.md sections 0 and a): which call
payloads are a 400 for the whole call, and how lenient the JSON reading is."""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.core.errors import InvalidInput
from berth.core.jsonutil import JSON
from berth.master.master import (
    SubscribeRefused,
    decode_uuid,
    framework_capabilities,
    framework_roles,
)
from berth.master.scheduler_api import (
    _accepts_json,
    _check_operations,
    _offer_ids,
    _refuse_seconds,
    _roles,
)
from tests.unit.master.factories import task_info

# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("payload", "seconds"),
    [
        ({}, None),  # no filters: the master's default (5 s)
        ({"filters": None}, None),  # null means unset
        ({"filters": {}}, None),
        ({"filters": {"refuse_seconds": 0}}, 0.0),
        ({"filters": {"refuse_seconds": 2.5}}, 2.5),
        ({"filters": {"refuse_seconds": "30"}}, 30.0),  # numbers as strings are accepted
        ({"filters": {"refuse_seconds": -1}}, -1.0),  # the allocator maps it to 5 s
        ({"filters": {"refuse_seconds": "Infinity"}}, math.inf),
    ],
)
def test_refuse_seconds(payload: JSON, seconds: float | None) -> None:
    assert _refuse_seconds(payload) == seconds


@pytest.mark.parametrize(
    "filters",
    [[], "5", {"refuse_seconds": True}, {"refuse_seconds": "soon"}, {"refuse_seconds": "nan"}],
)
def test_bad_refuse_seconds_fail_the_call(filters: Any) -> None:
    with pytest.raises(InvalidInput):
        _refuse_seconds({"filters": filters})


# --------------------------------------------------------------------------- ids and roles


def test_offer_ids() -> None:
    assert _offer_ids({"offer_ids": [{"value": "O1"}, {"value": "O2"}]}) == ["O1", "O2"]
    assert _offer_ids({}) == []  # an empty ACCEPT is answered per offer, not by a 400
    bad_payloads: list[JSON] = [
        {"offer_ids": {"value": "O1"}},
        {"offer_ids": ["O1"]},
        {"offer_ids": [{}]},
    ]
    for bad in bad_payloads:
        with pytest.raises(InvalidInput):
            _offer_ids(bad)


def test_roles() -> None:
    assert _roles(None) is None
    assert _roles({}) is None
    assert _roles({"roles": []}) is None  # no roles named: all of the framework's
    assert _roles({"roles": ["eng", "ops"]}) == ["eng", "ops"]
    for bad in ({"roles": "eng"}, {"roles": [1]}):
        with pytest.raises(InvalidInput):
            _roles(bad)


def test_framework_roles_and_capabilities() -> None:
    assert framework_roles({}) == ("*",)
    assert framework_roles({"role": "eng"}) == ("eng",)
    assert framework_roles({"role": ""}) == ("*",)
    multi = {"roles": ["eng", "ops"], "capabilities": [{"type": "MULTI_ROLE"}]}
    assert framework_roles(multi) == ("eng", "ops")
    assert framework_capabilities(multi) == {"MULTI_ROLE"}
    assert framework_capabilities({"capabilities": [{"type": 3}, "x", {}]}) == frozenset()


@pytest.mark.parametrize(
    "info",
    [
        {"roles": ["eng"]},  # roles without MULTI_ROLE
        {"role": "eng", "roles": ["eng"], "capabilities": [{"type": "MULTI_ROLE"}]},
        {"role": "eng", "capabilities": [{"type": "MULTI_ROLE"}]},
        {"roles": "eng", "capabilities": [{"type": "MULTI_ROLE"}]},
        {"roles": ["a", "a"], "capabilities": [{"type": "MULTI_ROLE"}]},
    ],
)
def test_framework_roles_refuses_what_mesos_refuses(info: JSON) -> None:
    with pytest.raises(SubscribeRefused):
        framework_roles(info)


# --------------------------------------------------------------------------- operations


def launch(*infos: Any) -> list[JSON]:
    return [{"type": "LAUNCH", "launch": {"task_infos": list(infos)}}]


def test_well_formed_operations_pass_through() -> None:
    ops = [*launch(task_info("a")), {"type": "RESERVE", "reserve": {}}]
    assert _check_operations(ops) == ops
    assert _check_operations(None) == []


@pytest.mark.parametrize(
    ("operations", "where"),
    [
        ({"type": "LAUNCH"}, "must be a list"),
        ([{}], "operations[0].type"),
        ([{"type": "LAUNCH"}], "operations[0].launch"),
        ([{"type": "LAUNCH", "launch": {"task_infos": {}}}], "task_infos"),
        (launch("task"), "task_infos[0]"),
        (launch({**task_info("a"), "name": None}), "task_infos[0].name"),
        (launch(task_info("a"), {**task_info("b"), "task_id": None}), "task_infos[1].task_id"),
        (launch({**task_info("a"), "agent_id": {"value": 1}}), "task_infos[0].agent_id"),
        (launch({**task_info("a"), "resources": {}}), "task_infos[0].resources"),
    ],
)
def test_operations_missing_required_fields_fail_the_whole_call(
    operations: Any, where: str
) -> None:
    # Required proto fields missing = the JSON does not convert: 400, no task launched.
    with pytest.raises(InvalidInput) as e:
        _check_operations(operations)
    assert where in str(e.value)


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("accept", "ok"),
    [
        (None, True),  # absent: anything
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("*/*", True),
        ("application/*", True),
        ("application/x-protobuf, application/json;q=0.5", True),
        ("application/x-protobuf", False),
        ("text/html", False),
    ],
)
def test_accept_header(accept: str | None, ok: bool) -> None:
    assert _accepts_json(accept) is ok


# --------------------------------------------------------------------------- acknowledge


@given(st.binary(min_size=16, max_size=16))
def test_acknowledge_uuid_is_sixteen_bytes_of_base64(raw: bytes) -> None:
    encoded = base64.b64encode(raw).decode()
    assert decode_uuid(encoded) == encoded


@given(st.binary(max_size=40).filter(lambda b: len(b) != 16))
def test_acknowledge_uuid_of_another_length_fails(raw: bytes) -> None:
    with pytest.raises(InvalidInput, match="16 bytes"):
        decode_uuid(base64.b64encode(raw).decode())


@pytest.mark.parametrize("value", [None, 16, "not base64!", b"x" * 16])
def test_acknowledge_uuid_garbage_fails(value: Any) -> None:
    with pytest.raises(InvalidInput):
        decode_uuid(value)
