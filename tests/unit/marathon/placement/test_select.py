"""Selection: the sample bound and best-of-sample with the earliest winning ties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from berth.marathon.placement import sample_limit, select


def test_limit_grows_like_log2() -> None:
    # Nomad's bound: max(2, ceil(log2 n)); never more than there are.
    assert [sample_limit(n) for n in (1, 2, 3, 4, 8, 9, 1024, 1025)] == [1, 2, 2, 2, 3, 4, 10, 11]
    assert sample_limit(50, exhaustive=True) == 50


def test_scan_wraps_around_and_stops_at_the_limit() -> None:
    # From index 3: d (feasible), e (refused), a (feasible) -> limit 2 reached after 3.
    pick = select(
        list("abcde"),
        start=3,
        limit=2,
        reject=lambda x: "no" if x == "e" else None,
        score=lambda x: 1.0,
    )
    assert (pick.chosen, pick.scanned, pick.rejected) == ("d", 3, (("e", "no"),))


def test_nothing_feasible_reports_every_refusal() -> None:
    pick = select(list("abc"), start=1, limit=2, reject=lambda x: x.upper(), score=lambda x: 0.0)
    assert pick.chosen is None
    assert pick.scanned == 3
    assert pick.rejected == (("b", "B"), ("c", "C"), ("a", "A"))


@given(st.lists(st.integers(0, 5), min_size=1, max_size=20), st.integers(0, 40), st.integers(1, 20))
def test_chosen_is_the_best_of_those_scanned(scores: list[int], start: int, limit: int) -> None:
    items = list(range(len(scores)))
    pick = select(
        items,
        start=start,
        limit=limit,
        reject=lambda i: "odd" if scores[i] % 2 else None,
        score=lambda i: float(scores[i]),
    )
    seen = [items[(start + k) % len(items)] for k in range(pick.scanned)]
    feasible = [i for i in seen if scores[i] % 2 == 0]
    assert len(feasible) <= limit
    if feasible:
        best = max(scores[i] for i in feasible)
        assert pick.chosen == next(i for i in feasible if scores[i] == best)
    else:
        assert pick.chosen is None
        assert pick.scanned == len(items)
