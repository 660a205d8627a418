"""Ranking: each ranker's score by hand, and how spread and binpack order offers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from berth.marathon.placement import AppContext, OfferSlot, OfferView, RoundScale, score
from berth.marathon.placement.rank import (
    app_spread,
    free_after,
    group_by_balance,
    packed_after,
)
from berth.marathon.placement.request import Strategy
from tests.unit.marathon.placement.factories import make_offer, make_request, on

A = make_offer("a", "cpus:4;mem:4096", "rack:r1")
B = make_offer("b", "cpus:2;mem:1024", "rack:r1")
C = make_offer("c", "cpus:1;mem:1024", "rack:r2")
SCALE = RoundScale.of([A, B, C])  # largest: 4 cpus, 4096 mem


def test_scale_is_the_largest_offer() -> None:
    assert SCALE.largest == {"cpus": 4000, "mem": 4096000}


def test_app_spread_counts_instances_on_the_agent() -> None:
    app = AppContext.of(make_request(), [on(A, "1"), on(A, "2"), on(B, "3")])
    assert [app_spread(app, OfferSlot.of(o), SCALE) for o in (A, B, C)] == [1 / 3, 1 / 2, 1.0]


def test_room_left_is_relative_to_the_largest_offer() -> None:
    # One instance of 1 cpu / 1024 mem. On A: 3/4 cpus and 3072/4096 mem left -> 0.75.
    # On B: 1/4 and 0/4096 -> 0.125. Binpacking scores the complement.
    app = AppContext.of(make_request(cpus=1, mem=1024))
    assert free_after(app, OfferSlot.of(A), SCALE) == 0.75
    assert free_after(app, OfferSlot.of(B), SCALE) == 0.125
    assert packed_after(app, OfferSlot.of(B), SCALE) == 0.875


def test_group_by_balance_prefers_less_used_values() -> None:
    app = AppContext.of(make_request(constraints=(("rack", "GROUP_BY", None),)), [on(A, "1")])
    assert group_by_balance(app, OfferSlot.of(B), SCALE) == 0.5  # r1 has one
    assert group_by_balance(app, OfferSlot.of(C), SCALE) == 1.0  # r2 has none
    assert group_by_balance(AppContext.of(make_request()), OfferSlot.of(C), SCALE) is None


def test_spread_prefers_an_agent_without_the_app_over_room() -> None:
    # The app runs on A. A: spread 1/2, room (3/4 + 3/4)/2 = 0.75 -> (1.5 + 0.75)/4 = 0.5625.
    # B: spread 1, room 0.125 -> (3 + 0.125)/4 = 0.78. B wins although A is emptier.
    app = AppContext.of(make_request(cpus=1, mem=1024), [on(A, "1")])
    assert score(app, OfferSlot.of(A), SCALE, "spread") == 0.5625
    assert score(app, OfferSlot.of(B), SCALE, "spread") == 0.78125


def test_binpack_prefers_the_fullest_offer() -> None:
    # Binpack ignores where the app runs: B (0.875 packed) beats A (0.25).
    app = AppContext.of(make_request(cpus=1, mem=1024), [on(B, "1")])
    assert score(app, OfferSlot.of(B), SCALE, "binpack") > score(
        app, OfferSlot.of(A), SCALE, "binpack"
    )


@given(
    st.floats(0.001, 4),
    st.floats(0, 4096),
    st.lists(st.sampled_from([A, B, C]), max_size=5),
    st.sampled_from(["spread", "binpack"]),
    st.booleans(),
)
def test_scores_are_normalised(
    cpus: float, mem: float, placed: list[OfferView], strategy: Strategy, group_by: bool
) -> None:
    constraints = (("rack", "GROUP_BY", None),) if group_by else ()
    app = AppContext.of(
        make_request(cpus=cpus, mem=mem, constraints=constraints),
        [on(o, str(i)) for i, o in enumerate(placed)],
    )
    for offer in (A, B, C):
        value = score(app, OfferSlot.of(offer), SCALE, strategy)
        assert 0.0 <= value <= 1.0
