"""Constraints: validation messages, field values, and each operator on hand-made agents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.core.attributes import Attribute
from berth.marathon.placement import (
    OPERATOR_MESSAGE,
    Constraint,
    OfferView,
    attribute_text,
    constraint_problems,
    constraint_rejection,
    field_value,
)
from tests.unit.marathon.placement.factories import make_offer, on

# --------------------------------------------------------------------------- validation


def test_valid_constraints_have_no_problems() -> None:
    assert (
        constraint_problems(
            [
                ["hostname", "UNIQUE"],
                ["rack_id", "CLUSTER", "rack-1"],
                ["rack_id", "CLUSTER"],
                ["rack_id", "GROUP_BY", "3"],
                ["rack_id", "GROUP_BY"],
                ["rack_id", "LIKE", "rack-[1-3]"],
                ["rack_id", "UNLIKE", "rack-[7-9]"],
                ["rack_id", "MAX_PER", "2"],
                ["level", "IS", "0.8"],
                ("@zone", "UNIQUE", None),
            ]
        )
        == []
    )


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (["hostname", "unique"], OPERATOR_MESSAGE),  # lower case: Marathon 1.10 would 500
        (["hostname", "LIKEE", "x"], OPERATOR_MESSAGE),
        (["hostname"], "a constraint is [field, operator] or [field, operator, value]"),
        (["a", "IS", "b", "c"], "a constraint is [field, operator] or [field, operator, value]"),
        ("hostname:UNIQUE", "a constraint is [field, operator] or [field, operator, value]"),
        (["", "UNIQUE"], "field must not be empty"),
        (["rack", 3], "field and operator must be strings"),
        (["rack", "IS", 3], "value must be a string"),
        (["hostname", "UNIQUE", "x"], "Value specified but not used (UNIQUE takes no value)"),
        (
            ["rack", "GROUP_BY", "three"],
            "GROUP_BY may either have no value or an integer value "
            "(the number of distinct values to expect), got 'three'",
        ),
        (
            ["rack", "MAX_PER"],
            "MAX_PER needs an integer value (the most instances per value), got none",
        ),
        (
            ["rack", "MAX_PER", "-1"],
            "MAX_PER needs an integer value (the most instances per value), got '-1'",
        ),
        (["rack", "LIKE"], "LIKE needs a regular expression value"),
        (["rack", "IS"], "IS needs a value (text or scalar)"),
        (["rack", "IS", "a b"], "IS value must match [a-zA-Z0-9_/.-]*, got 'a b'"),
    ],
)
def test_invalid_constraint_is_reported_with_its_index(constraint: object, message: str) -> None:
    assert constraint_problems([["hostname", "UNIQUE"], constraint]) == [(1, message)]


def test_bad_regex_names_the_pattern() -> None:
    [(index, message)] = constraint_problems([["rack", "UNLIKE", "rack-["]])
    assert index == 0
    assert message.startswith("'rack-[' is not a valid regular expression: ")


def test_every_problem_is_reported_not_just_the_first() -> None:
    problems = constraint_problems([["a", "X"], ["b", "UNIQUE"], ["c", "MAX_PER"]])
    assert [i for i, _ in problems] == [0, 2]


_FIELDS = st.sampled_from(["hostname", "rack", "@zone", ""])
_OPS = st.sampled_from(["UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "MAX_PER", "UNLIKE", "IS", "is"])
_VALUES = st.one_of(st.none(), st.sampled_from(["", "2", "-1", "x", "[", "a.b", "r 1", "0.8"]))


@given(_FIELDS, _OPS, _VALUES)
def test_parse_accepts_exactly_what_validation_accepts(
    name: str, op: str, value: str | None
) -> None:
    problems = constraint_problems([(name, op, value)])
    try:
        Constraint.parse((name, op, value))
    except ValueError:
        assert problems
    else:
        assert problems == []


# --------------------------------------------------------------------------- field values


def test_attribute_text_forms() -> None:
    # Marathon compares attributes as strings: scalars at three decimals, ranges bracketed.
    assert attribute_text(Attribute("rack", "TEXT", "r1")) == "r1"
    assert attribute_text(Attribute("level", "SCALAR", 10.0)) == "10"
    assert attribute_text(Attribute("level", "SCALAR", 0.8)) == "0.8"
    assert attribute_text(Attribute("level", "SCALAR", 2.0005)) == "2.001"
    assert attribute_text(Attribute("k", "RANGES", ((1, 5), (7, 7)))) == "[1-5,7-7]"


def test_field_values_of_an_offer() -> None:
    offer = make_offer("node1", attributes="rack:r1;level:2.5", region="eu", zone="eu-1")
    assert field_value("hostname", offer) == "node1"
    assert field_value("@hostname", offer) == "node1"
    assert field_value("@region", offer) == "eu"
    assert field_value("@zone", offer) == "eu-1"
    assert field_value("rack", offer) == "r1"
    assert field_value("level", offer) == "2.5"
    assert field_value("missing", offer) is None
    assert field_value("@zone", make_offer("node2")) is None


# --------------------------------------------------------------------------- operators


A1 = make_offer("a1", attributes="rack:r1;level:0.8")
A2 = make_offer("a2", attributes="rack:r1;level:10")
B1 = make_offer("b1", attributes="rack:r2;level:10.0004")
BARE = make_offer("bare")  # no attributes at all


def check(
    constraint: tuple[str, str, str | None], offer: OfferView, *placed: OfferView
) -> str | None:
    return constraint_rejection([constraint], offer, [on(p, f"i{n}") for n, p in enumerate(placed)])


def test_unique() -> None:
    assert check(("hostname", "UNIQUE", None), A1) is None
    assert check(("hostname", "UNIQUE", None), A2, A1) is None
    assert (
        check(("hostname", "UNIQUE", None), A1, A1)
        == "constraint hostname UNIQUE: an instance already runs on a1"
    )
    # a1 and a2 share rack r1: one instance per rack.
    assert (
        check(("rack", "UNIQUE", None), A2, A1)
        == "constraint rack UNIQUE: an instance already runs on rack=r1"
    )
    assert (
        check(("rack", "UNIQUE", None), BARE)
        == "constraint rack UNIQUE: agent lacks attribute rack"
    )


def test_cluster_with_value() -> None:
    assert check(("rack", "CLUSTER", "r1"), A1) is None
    assert check(("rack", "CLUSTER", "r1"), B1) == "constraint rack CLUSTER r1: agent has rack=r2"


def test_cluster_without_value_follows_the_first_instance() -> None:
    # Nothing placed yet: any rack will do. Once an instance runs on r2, only r2.
    assert check(("rack", "CLUSTER", None), A1) is None
    assert check(("rack", "CLUSTER", None), B1, B1) is None
    assert (
        check(("rack", "CLUSTER", None), A1, B1, A2)
        == "constraint rack CLUSTER: instances run on rack=r2, agent has r1"
    )
    # An empty value means no value, as in Marathon.
    assert check(("rack", "CLUSTER", ""), A1, B1) is not None


def test_group_by_even_spread() -> None:
    # r1 has 2 (a1, a2), r2 has 1 (b1): r1 is above the least used value, r2 is at it.
    c = ("rack", "GROUP_BY", None)
    assert check(c, A1, A1, A2, B1) == (
        "constraint rack GROUP_BY: rack=r1 has 2 instances, the least used value has 1"
    )
    assert check(c, B1, A1, A2, B1) is None
    # A value nobody uses yet is always fine.
    assert check(c, make_offer("c1", attributes="rack:r3"), A1, A2) is None


def test_group_by_waits_for_the_expected_number_of_values() -> None:
    # GROUP_BY 3 with instances on r1 and r2 only: r1 (count 1 = least) is still refused
    # until a third rack is in use, which is how Marathon "waits" for all racks.
    c = ("rack", "GROUP_BY", "3")
    assert check(c, A2, A1, B1) == (
        "constraint rack GROUP_BY 3: waiting for 3 distinct rack values, 2 in use"
    )
    assert check(c, make_offer("c1", attributes="rack:r3"), A1, B1) is None
    assert check(c, A2, A1, B1, make_offer("c1", attributes="rack:r3")) is None


def test_max_per() -> None:
    c = ("rack", "MAX_PER", "2")
    assert check(c, A2, A1) is None
    assert check(c, B1, A1, A2) is None
    assert check(c, A2, A1, A2) == "constraint rack MAX_PER 2: rack=r1 already has 2 instances"
    assert check(("hostname", "MAX_PER", "1"), A1, A1) == (
        "constraint hostname MAX_PER 1: a1 already has 1 instance"
    )


def test_like_and_unlike_match_the_whole_value() -> None:
    assert check(("rack", "LIKE", "r[1-2]"), B1) is None
    assert check(("rack", "LIKE", "r"), A1) == "constraint rack LIKE r: rack=r1 does not match"
    assert check(("hostname", "LIKE", "a.*"), A2) is None
    assert check(("rack", "UNLIKE", "r2"), A1) is None
    assert check(("rack", "UNLIKE", "r2"), B1) == "constraint rack UNLIKE r2: rack=r2 matches"
    # Scalars match as their rounded text.
    assert check(("level", "LIKE", "10"), A2) is None
    assert check(("level", "LIKE", r"10\.0+4"), B1) is not None  # it reads "10"


def test_missing_attribute_passes_only_unlike() -> None:
    for op, value in [
        ("UNIQUE", None),
        ("CLUSTER", "r1"),
        ("GROUP_BY", None),
        ("LIKE", "r1"),
        ("MAX_PER", "5"),
        ("IS", "r1"),
    ]:
        named = " ".join(p for p in ("rack", op, value) if p)
        assert check(("rack", op, value), BARE) == f"constraint {named}: agent lacks attribute rack"
    assert check(("rack", "UNLIKE", "r1"), BARE) is None
    assert (
        check(("@zone", "LIKE", "z"), BARE)
        == "constraint @zone LIKE z: agent has no fault domain zone"
    )


def test_is_compares_text_exactly_and_scalars_at_three_decimals() -> None:
    assert check(("rack", "IS", "r1"), A1) is None
    assert check(("rack", "IS", "R1"), A1) == "constraint rack IS R1: agent has rack=r1"
    assert check(("level", "IS", "0.8"), A1) is None
    assert check(("level", "IS", "0.80"), A1) is None  # same scalar, other spelling
    assert check(("level", "IS", "10.0"), A2) is None
    # 10.0004 rounds to 10.000 at Mesos precision.
    assert check(("level", "IS", "10"), B1) is None
    assert check(("level", "IS", "10.001"), B1) == "constraint level IS 10.001: agent has level=10"


def test_only_the_first_broken_constraint_is_reported() -> None:
    problem = constraint_rejection(
        [("rack", "LIKE", "r1"), ("hostname", "UNIQUE", None)], B1, [on(B1, "x")]
    )
    assert problem == "constraint rack LIKE r1: rack=r2 does not match"
