"""The resource model: arithmetic laws, text and JSON forms, and every bad input -> InvalidInput."""

from __future__ import annotations

import doctest
import math
from typing import Any

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import berth.core.resources as resources_module
from berth.core.attributes import (
    Attribute,
    attributes_from_mesos,
    attributes_to_mesos,
    attributes_to_state,
    parse_attributes,
)
from berth.core.errors import InvalidInput
from berth.core.resources import Resources, validate_role

# --------------------------------------------------------------------------- strategies

ROLES = ["*", "eng", "eng/web", "ops"]
SCALAR_NAMES = ["cpus", "mem", "disk", "gpus", "licenses"]
RANGE_NAMES = ["ports", "vlans"]
SET_NAMES = ["bugs", "zones"]

roles = st.sampled_from(ROLES)
# Quantities on the 0.001 grid, so that round trips through floats are exact by design.
milli_values = st.integers(min_value=0, max_value=10**9)
small_ranges = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 8)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=4,
)
set_items = st.frozensets(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=4)


@st.composite
def resource_parts(draw: st.DrawFn) -> Resources:
    kind = draw(st.sampled_from(["scalar", "ranges", "set"]))
    role = draw(roles)
    if kind == "scalar":
        return Resources.scalar(
            draw(st.sampled_from(SCALAR_NAMES)), draw(milli_values) / 1000, role
        )
    if kind == "ranges":
        return Resources.ranges(draw(st.sampled_from(RANGE_NAMES)), draw(small_ranges), role)
    return Resources.set(draw(st.sampled_from(SET_NAMES)), draw(set_items), role)


def _sum(parts: list[Resources]) -> Resources:
    total = Resources.empty()
    for part in parts:
        total = total + part
    return total


resources = st.lists(resource_parts(), max_size=6).map(_sum)
scalar_resources = st.lists(
    st.builds(
        Resources.scalar,
        st.sampled_from(SCALAR_NAMES),
        milli_values.map(lambda m: m / 1000),
        roles,
    ),
    max_size=6,
).map(_sum)


def _elements(r: Resources, name: str) -> set[int]:
    """The ranges of ``name`` as a plain set of integers: the model ranges must match."""
    return {i for b, e in r.ranges_of(name) for i in range(b, e + 1)}


# --------------------------------------------------------------------------- doctests


def test_docstring_examples() -> None:
    failures, _ = doctest.testmod(resources_module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# --------------------------------------------------------------------------- examples


def test_parse_text_agent_flag() -> None:
    r = Resources.parse_text(
        "cpus:4;mem:2048;disk:100;ports:[31000-32000, 40000-40010];bugs(eng):{a,b}"
    )
    assert r.scalar_value("cpus") == 4
    assert r.scalar_value("mem") == 2048
    assert r.ranges_of("ports") == ((31000, 32000), (40000, 40010))
    assert r.reserved("eng") == Resources.set("bugs", ["a", "b"], role="eng")
    assert r.port_count() == 1001 + 11


def test_parse_text_default_role_and_whitespace() -> None:
    r = Resources.parse_text(" cpus : 2 ; mem(*):64 ;; ", default_role="eng")
    assert r == Resources.scalar("cpus", 2, "eng") + Resources.scalar("mem", 64)


def test_summary_shape() -> None:
    r = Resources.parse_text(
        "cpus:4;mem:6844;disk:35000;ports:[31000-32000];cpus(eng):0.5;bugs:{b,a}"
    )
    assert r.summary() == {
        "cpus": 4.5,
        "gpus": 0.0,
        "mem": 6844.0,
        "disk": 35000.0,
        "ports": "[31000-32000]",
        "bugs": "{a, b}",
    }
    assert Resources.empty().summary() == {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}


def test_summary_ranges_use_comma_space() -> None:
    r = Resources.of(ports=[(1, 2), (5, 6)])
    assert r.summary()["ports"] == "[1-2, 5-6]"


def test_to_mesos_shape() -> None:
    r = Resources.parse_text("mem:64;cpus:0.1;ports:[31000-31001];cpus(eng):1;bugs:{x}")
    assert r.to_mesos("eng") == [
        {
            "name": "bugs",
            "type": "SET",
            "set": {"item": ["x"]},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 0.1},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1.0},
            "role": "eng",
            "reservations": [{"type": "STATIC", "role": "eng"}],
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 64.0},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 31001}]},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
    ]
    assert "allocation_info" not in r.to_mesos()[0]


def test_from_mesos_accepts_mesos_json_mapping() -> None:
    items = [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": "1.5"},
            "allocation_info": {"role": "x"},
        },
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},  # same key: adds up
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 128},
            "reservations": [
                {"type": "STATIC", "role": "eng"},
                {"type": "DYNAMIC", "role": "eng/web"},
            ],
        },
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": "31000", "end": 31005}]},
        },
        {"name": "bugs", "type": "SET", "set": {"item": ["a"]}, "role": None},
        {"name": "disk", "type": "SCALAR", "scalar": {"value": 0}},  # zero disappears
        {"name": "gpus", "type": "SCALAR", "scalar": {"value": 1}, "unknown_key": True},
    ]
    r = Resources.from_mesos(items)
    assert r == (
        Resources.of(cpus=2, gpus=1, ports=[(31000, 31005)])
        + Resources.scalar("mem", 128, role="eng/web")
        + Resources.set("bugs", ["a"])
    )
    assert "disk" not in r.names()


@pytest.mark.parametrize(
    ("items", "path", "fragment"),
    [
        ({"name": "cpus"}, "resources", "expected a list"),
        ([1], "resources[0]", "expected an object"),
        ([{"type": "SCALAR", "scalar": {"value": 1}}], "resources[0].name", "non-empty string"),
        ([{"name": "", "type": "SCALAR"}], "resources[0].name", "non-empty string"),
        ([{"name": "cpus", "scalar": {"value": 1}}], "resources[0].type", "missing"),
        ([{"name": "cpus", "type": "TEXT"}], "resources[0].type", "unknown type 'TEXT'"),
        (
            [{"name": "cpus", "type": "RANGES", "ranges": {}}],
            "resources[0].type",
            "must be of type SCALAR",
        ),
        (
            [{"name": "ports", "type": "SCALAR", "scalar": {"value": 1}}],
            "resources[0].type",
            "RANGES",
        ),
        ([{"name": "cpus", "type": "SCALAR"}], "resources[0].scalar", "missing 'scalar'"),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {}}],
            "resources[0].scalar.value",
            "missing value",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}],
            "resources[0].scalar.value",
            "must not be negative",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "NaN"}}],
            "resources[0].scalar.value",
            "NaN",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "Infinity"}}],
            "resources[0].scalar.value",
            "finite",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "abc"}}],
            "resources[0].scalar.value",
            "'abc' is not a number",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": True}}],
            "resources[0].scalar.value",
            "expected a number",
        ),
        (
            [{"name": "mem", "type": "SCALAR", "scalar": {"value": 10**30}}],
            "resources[0].scalar.value",
            "too large",
        ),
        (
            [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 5, "end": 4}]}}],
            "resources[0].ranges.range[0]",
            "greater than end",
        ),
        (
            [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": -5, "end": 4}]}}],
            "resources[0].ranges.range[0]",
            "negative",
        ),
        (
            [
                {
                    "name": "ports",
                    "type": "RANGES",
                    "ranges": {"range": [{"begin": 0, "end": 2**64}]},
                }
            ],
            "resources[0].ranges.range[0]",
            "64 bits",
        ),
        (
            [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1}]}}],
            "resources[0].ranges.range[0].end",
            "missing 'end'",
        ),
        (
            [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1.5, "end": 2}]}}],
            "resources[0].ranges.range[0].begin",
            "expected an integer",
        ),
        (
            [{"name": "ports", "type": "RANGES", "ranges": {"range": {"begin": 1}}}],
            "resources[0].ranges.range",
            "expected a list",
        ),
        (
            [{"name": "bugs", "type": "SET", "set": {"item": [1]}}],
            "resources[0].set.item[0]",
            "strings",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "a//b"}],
            "resources[0].role",
            "double slash",
        ),
        (
            [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": 7}],
            "resources[0].role",
            "expected a string",
        ),
        (
            [
                {
                    "name": "cpus",
                    "type": "SCALAR",
                    "scalar": {"value": 1},
                    "reservations": [{"role": "*"}],
                }
            ],
            "resources[0].reservations[0].role",
            "cannot target '*'",
        ),
        (
            [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
                {"name": "mem", "type": "SCALAR", "scalar": []},
            ],
            "resources[1].scalar",
            "expected an object",
        ),
    ],
)
def test_from_mesos_rejects_with_path(items: object, path: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Resources.from_mesos(items)
    assert info.value.path == path
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cpus:abc", "'cpus:abc': 'abc' is not a number"),
        ("cpus4", "expected 'name:value'"),
        ("cpus:-1", "must not be negative"),
        ("cpus:[1-2]", "cpus must be a number"),
        ("ports:100", "ports must be ranges"),
        ("ports:[1-2", "must end with ']'"),
        ("ports:[2-1]", "greater than end"),
        ("ports:[a-b]", "'begin-end'"),
        ("bugs:{a,b", "must end with '}'"),
        ("cpus(a//b):1", "double slash"),
        ("cpus(*/x):1", "'*' is only valid"),
        ("(eng):1", "bad resource name"),
        ("[not json", "not valid JSON"),
        ('[{"name": "cpus"}]', "expected SCALAR"),
    ],
)
def test_parse_text_rejects_with_a_fix(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Resources.parse_text(text)
    assert fragment in str(info.value)
    assert str(info.value).startswith("resources")


def test_parse_text_error_message_matches_brief() -> None:
    with pytest.raises(InvalidInput) as info:
        Resources.parse_text("cpus:abc")
    assert str(info.value) == "resources: 'cpus:abc': 'abc' is not a number"


def test_parse_text_accepts_json_array() -> None:
    text = '[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]'
    assert Resources.parse_text(text) == Resources.of(cpus=2)


def test_coalescing_and_splitting_examples() -> None:
    assert Resources.ranges("ports", [(1, 2)]) + Resources.ranges(
        "ports", [(3, 4)]
    ) == Resources.ranges("ports", [(1, 4)])
    assert Resources.ranges("ports", [(1, 10)]) - Resources.ranges(
        "ports", [(5, 5)]
    ) == Resources.ranges("ports", [(1, 4), (6, 10)])
    assert Resources.ranges("ports", [(1, 3), (2, 9), (11, 12)]).ranges_of("ports") == (
        (1, 9),
        (11, 12),
    )


def test_subtraction_saturates() -> None:
    r = Resources.of(cpus=1, mem=10) - Resources.of(cpus=3, disk=5)
    assert r == Resources.of(mem=10)


def test_rounding_keeps_three_decimals_half_up() -> None:
    assert Resources.scalar("cpus", 0.0005).scalar_value("cpus") == 0.001
    assert Resources.scalar("cpus", 0.00049).is_empty()
    assert Resources.scalar("cpus", 0.1) + Resources.scalar("cpus", 0.2) == Resources.scalar(
        "cpus", 0.3
    )
    assert str(Resources.scalar("mem", 1 / 3)) == "mem:0.333"


def test_contains_is_per_role() -> None:
    r = Resources.parse_text("cpus:1;cpus(eng):2")
    assert r.contains(Resources.parse_text("cpus(eng):2;cpus:1"))
    assert not r.contains(Resources.of(cpus=2))
    assert r.scalar_value("cpus") == 3


def test_allocatable_to_includes_ancestor_reservations() -> None:
    r = Resources.parse_text("cpus:1;cpus(eng):2;cpus(eng/web):4;cpus(ops):8;mem(eng/web/x):1")
    assert r.allocatable_to("eng/web").scalar_value("cpus") == 7
    assert r.allocatable_to("eng").scalar_value("cpus") == 3
    assert r.allocatable_to("*") == Resources.of(cpus=1)
    assert r.unreserved() == Resources.of(cpus=1)
    assert r.reserved("ops") == Resources.scalar("cpus", 8, "ops")


def test_queries() -> None:
    r = Resources.parse_text("cpus:1;cpus(eng):2;mem:5;ports:[1-3];ports(eng):[4-4];bugs:{a}")
    assert r.scalars() == {"cpus": 3.0, "mem": 5.0}
    assert r.ranges_of("ports") == ((1, 4),)
    assert r.names() == frozenset({"cpus", "mem", "ports", "bugs"})
    assert r.roles() == frozenset({"*", "eng"})
    assert r.quantity("ports") == 4
    assert r.quantities() == {"cpus": 3.0, "mem": 5.0, "ports": 4.0, "bugs": 1.0}
    assert r.without_names("cpus", "ports") == Resources.parse_text("mem:5;bugs:{a}")
    assert r.with_role("ops").roles() == frozenset({"ops"})
    assert r.scalar_quantities() == Resources.of(cpus=3, mem=5)
    assert not Resources.empty()
    assert bool(r)
    assert {r: 1}[Resources.parse_text(str(r))] == 1


def test_constructors_validate() -> None:
    with pytest.raises(InvalidInput):
        Resources.scalar("cpus", -1)
    with pytest.raises(InvalidInput):
        Resources.scalar("ports", 1)
    with pytest.raises(InvalidInput):
        Resources.ranges("ports", [(5, 1)])
    with pytest.raises(InvalidInput):
        Resources.set("bugs", [""])
    with pytest.raises(InvalidInput):
        Resources.of(cpus=1, role="")
    assert Resources.scalar("cpus", 0).is_empty()


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize("role", ["*", "eng", "eng/web", "a-b", "a.b", "x/y/z", "web_1"])
def test_valid_roles(role: str) -> None:
    validate_role(role)


@pytest.mark.parametrize(
    "role",
    [
        "",
        ".",
        "..",
        "-eng",
        "eng/-x",
        "/eng",
        "eng/",
        "eng//web",
        "*/x",
        "x/*",
        "a b",
        "a\tb",
        "a\bb",
        "a/./b",
    ],
)
def test_invalid_roles(role: str) -> None:
    with pytest.raises(InvalidInput):
        validate_role(role)


@given(st.text(max_size=12))
def test_validate_role_only_raises_invalid_input(role: str) -> None:
    _only_invalid_input(validate_role, role)


# --------------------------------------------------------------------------- attributes


def test_parse_attributes_infers_types() -> None:
    attrs = parse_attributes("rack:r1;zone:us-east-1a;level:10;keys:[1000-1500];w:0.5")
    assert attrs == (
        Attribute("rack", "TEXT", "r1"),
        Attribute("zone", "TEXT", "us-east-1a"),
        Attribute("level", "SCALAR", 10.0),
        Attribute("keys", "RANGES", ((1000, 1500),)),
        Attribute("w", "SCALAR", 0.5),
    )
    assert attributes_to_state(attrs) == {
        "rack": "r1",
        "zone": "us-east-1a",
        "level": 10,
        "keys": "[1000-1500]",
        "w": 0.5,
    }
    assert attributes_to_mesos(attrs)[:4] == [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "zone", "type": "TEXT", "text": {"value": "us-east-1a"}},
        {"name": "level", "type": "SCALAR", "scalar": {"value": 10.0}},
        {"name": "keys", "type": "RANGES", "ranges": {"range": [{"begin": 1000, "end": 1500}]}},
    ]
    assert attributes_from_mesos(orjson.loads(orjson.dumps(attributes_to_mesos(attrs)))) == attrs
    assert parse_attributes("") == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rack", "expected 'name:value'"),
        ("rack:", "must not be empty"),
        ("s:{a}", "set"),
        ("k:[2-1]", "greater"),
    ],
)
def test_parse_attributes_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_attributes(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("items", "path"),
    [
        ({}, "attributes"),
        ([{"name": "a", "type": "SET"}], "attributes[0].type"),
        ([{"name": "a", "type": "TEXT", "text": {"value": 1}}], "attributes[0].text.value"),
        (
            [{"name": "a", "type": "SCALAR", "scalar": {"value": "NaN"}}],
            "attributes[0].scalar.value",
        ),
        ([{"type": "TEXT"}], "attributes[0].name"),
    ],
)
def test_attributes_from_mesos_rejects(items: object, path: str) -> None:
    with pytest.raises(InvalidInput) as info:
        attributes_from_mesos(items)
    assert info.value.path == path


# --------------------------------------------------------------------------- properties


@given(resources, resources)
def test_addition_commutes(a: Resources, b: Resources) -> None:
    assert a + b == b + a
    assert hash(a + b) == hash(b + a)


@given(resources, resources, resources)
def test_addition_associates(a: Resources, b: Resources, c: Resources) -> None:
    assert (a + b) + c == a + (b + c)


@given(resources)
def test_empty_is_neutral(a: Resources) -> None:
    assert a + Resources.empty() == a == Resources.empty() + a
    assert a - Resources.empty() == a
    assert (a - a).is_empty()


@given(scalar_resources, scalar_resources)
def test_add_then_subtract_scalars_is_identity(a: Resources, b: Resources) -> None:
    assert a + b - b == a


@given(resources, resources)
def test_add_then_subtract_is_identity_on_what_b_does_not_touch(a: Resources, b: Resources) -> None:
    # Ranges and sets are sets: adding what is already there changes nothing, so the law
    # holds for the part of `a` disjoint from `b` (for scalars that is all of `a - b`).
    disjoint = a - b
    assert disjoint + b - b == disjoint


@given(resources, resources)
def test_contains_laws(a: Resources, b: Resources) -> None:
    assert a.contains(a)
    assert a.contains(Resources.empty())
    assert (a + b).contains(a)
    assert a.contains(a - b)
    # containment is exactly "nothing of b is left over after taking a away"
    assert a.contains(b) == (b - a).is_empty()


@given(resources, resources)
def test_subtraction_then_addition_restores_containment(a: Resources, b: Resources) -> None:
    assert ((a - b) + b).contains(a)


@given(small_ranges, small_ranges)
def test_ranges_behave_like_sets_of_integers(
    x: list[tuple[int, int]], y: list[tuple[int, int]]
) -> None:
    a, b = Resources.ranges("ports", x), Resources.ranges("ports", y)
    ea, eb = _elements(a, "ports"), _elements(b, "ports")
    assert _elements(a + b, "ports") == ea | eb
    assert _elements(a - b, "ports") == ea - eb
    assert a.contains(b) == (eb <= ea)
    # coalesced: sorted, no overlaps, no adjacency
    rs = (a + b).ranges_of("ports")
    assert all(rs[i][1] + 1 < rs[i + 1][0] for i in range(len(rs) - 1))
    assert (a + b).port_count() == len(ea | eb)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_rounding_is_stable(value: float) -> None:
    r = Resources.scalar("mem", value)
    once = r.scalar_value("mem")
    assert once == math.floor(value * 1000 + 0.5) / 1000
    assert Resources.scalar("mem", once) == r
    assert Resources.parse_text(str(r)) == r
    assert Resources.from_mesos(r.to_mesos()) == r


@given(resources, st.none() | roles)
def test_mesos_json_round_trip(r: Resources, allocation_role: str | None) -> None:
    wire = orjson.loads(orjson.dumps(r.to_mesos(allocation_role)))
    assert Resources.from_mesos(wire) == r


@given(resources)
def test_text_round_trip(r: Resources) -> None:
    assert Resources.parse_text(str(r)) == r


@given(resources)
def test_parse_text_reads_summary_like_strings(r: Resources) -> None:
    flat = r.with_role("*") if r else r
    text = ";".join(f"{name}:{value}" for name, value in flat.summary().items())
    assert Resources.parse_text(text) == flat


@given(resources)
def test_summary_sums_over_roles(r: Resources) -> None:
    summary = r.summary()
    for name in ("cpus", "gpus", "mem", "disk"):
        assert summary[name] == r.scalar_value(name)


# --------------------------------------------------------------------------- fuzzing bad input

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

# Values shaped like resources, with every field possibly wrong: reaches the deep checks.
_vocab_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "SCALAR",
            "RANGES",
            "SET",
            "TEXT",
            "cpus",
            "ports",
            "*",
            "eng",
            "1.5",
            "-1",
            "NaN",
            "Infinity",
        ]
    ),
)
resource_like = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["cpus", "ports", "bugs", "", "x"]) | _vocab_values,
        "type": st.sampled_from(["SCALAR", "RANGES", "SET", "TEXT"]) | _vocab_values,
        "scalar": st.fixed_dictionaries({}, optional={"value": _vocab_values}) | _vocab_values,
        "ranges": st.fixed_dictionaries(
            {},
            optional={
                "range": st.lists(
                    st.fixed_dictionaries(
                        {}, optional={"begin": _vocab_values, "end": _vocab_values}
                    )
                    | _vocab_values,
                    max_size=3,
                )
            },
        )
        | _vocab_values,
        "set": st.fixed_dictionaries({}, optional={"item": st.lists(_vocab_values, max_size=3)})
        | _vocab_values,
        "role": _vocab_values,
        "reservations": st.lists(
            st.fixed_dictionaries({}, optional={"role": _vocab_values, "type": _vocab_values})
            | _vocab_values,
            max_size=3,
        )
        | _vocab_values,
    },
)


def _only_invalid_input(fn: Any, value: object) -> None:
    """Call ``fn(value)``: it may succeed or raise InvalidInput with a message, nothing else."""
    message = "ok"
    try:
        fn(value)
    except InvalidInput as exc:
        message = exc.message
    assert message


@given(json_values)
def test_from_mesos_fuzz_arbitrary_json(value: object) -> None:
    _only_invalid_input(Resources.from_mesos, value)
    _only_invalid_input(attributes_from_mesos, value)


@given(st.lists(resource_like, max_size=4))
def test_from_mesos_fuzz_resource_like(value: list[dict[str, object]]) -> None:
    _only_invalid_input(Resources.from_mesos, value)


@given(st.lists(resource_like, max_size=3))
def test_from_mesos_fuzz_through_json_text(value: list[dict[str, object]]) -> None:
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        assume(False)  # ints beyond 64 bits cannot be JSON-encoded by orjson
    _only_invalid_input(Resources.parse_text, text)


@given(st.text(max_size=40))
def test_parse_text_fuzz_any_text(text: str) -> None:
    _only_invalid_input(Resources.parse_text, text)
    _only_invalid_input(parse_attributes, text)


@given(st.text(alphabet="cpusmemportsbug:;[]{}(),-0123456789.e*/ ", max_size=40))
def test_parse_text_fuzz_syntax_alphabet(text: str) -> None:
    _only_invalid_input(Resources.parse_text, text)
    _only_invalid_input(parse_attributes, text)
