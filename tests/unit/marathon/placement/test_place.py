"""A placement round: hand-worked examples, safety properties, and a timing print."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.core.resources import Resources
from berth.marathon.placement import (
    OfferView,
    PlacedInstance,
    PlacementOptions,
    PlacementRequest,
    PlacementResult,
    check_offer,
    field_value,
    place,
)
from tests.unit.marathon.placement.factories import make_offer, make_request, on


def hosts(result: PlacementResult, app_id: str = "/web") -> list[str]:
    return [p.hostname for p in result.by_app.get(app_id, ())]


def racks(
    result: PlacementResult, offers: Sequence[OfferView], app_id: str = "/web"
) -> Counter[str]:
    rack_of = {o.hostname: field_value("rack", o) or "-" for o in offers}
    return Counter(rack_of[h] for h in hosts(result, app_id))


# --------------------------------------------------------------------------- constraints


def test_unique_hostname_three_agents_four_instances() -> None:
    # Three agents with room for many instances each; hostname UNIQUE allows one per host.
    # Instances 1-3 take a, b and c (in the seed's order); for instance 4 every host already
    # runs one, so each of the three offers is refused at the constraint stage.
    offers = [make_offer(h) for h in "abc"]
    req = make_request(constraints=(("hostname", "UNIQUE", None),))
    result = place([(req, 4)], offers, {}, seed=1)
    assert sorted(hosts(result)) == ["a", "b", "c"]
    unplaced = result.unplaced["/web"]
    assert (unplaced.count, dict(unplaced.reasons)) == (1, {"UnfulfilledConstraint": 3})
    assert sorted(r.detail for r in unplaced.details) == [
        f"constraint hostname UNIQUE: an instance already runs on {h}" for h in "abc"
    ]
    # /v2/queue's funnel: 3 offers processed, all 3 declined at the constraint stage.
    summary = unplaced.reject_summary()
    assert summary[:3] == [
        {"reason": "UnfulfilledRole", "declined": 0, "processed": 3},
        {"reason": "UnfulfilledConstraint", "declined": 3, "processed": 3},
        {"reason": "NoCorrespondingReservationFound", "declined": 0, "processed": 0},
    ]
    for p in result.placements:
        assert p.resources == Resources.of(cpus=0.5, mem=128)


def test_unique_sees_instances_running_before_the_round() -> None:
    offers = [make_offer(h) for h in "abc"]
    req = make_request(constraints=(("hostname", "UNIQUE", None),))
    result = place([(req, 3)], offers, {"/web": [on(offers[1], "web.1")]}, seed=5)
    assert sorted(hosts(result)) == ["a", "c"]
    assert result.unplaced["/web"].count == 1


RACKED = [
    make_offer(f"{r}-{i}", attributes=f"rack:{r}") for r in ("r1", "r2", "r3") for i in (1, 2)
]


@pytest.mark.parametrize("seed", range(5))
def test_group_by_rack_evens_out_over_racks(seed: int) -> None:
    # Two per rack on r1..r3; two instances already run on r1. Four more:
    #  1st: r1 is the only value in use (count 2 = the least), so it is feasible, but the
    #       balance ranker scores an unused rack 1.0 against r1's 1/3 -> r2 or r3.
    #  2nd: r1 (2) is now above the least used value (1): refused. The rack still unused
    #       wins on balance.
    #  3rd, 4th: r1 refused until r2 and r3 catch up to 2. End: 2/2/2.
    existing = [on(RACKED[0], "w1"), on(RACKED[1], "w2")]
    req = make_request(constraints=(("rack", "GROUP_BY", None),))
    result = place([(req, 4)], RACKED, {"/web": existing}, seed=seed)
    assert racks(result, RACKED) == {"r2": 2, "r3": 2}
    assert "/web" not in result.unplaced


def test_group_by_with_expected_count_waits_for_enough_values() -> None:
    # GROUP_BY 3 but only racks r1 and r2 are offered: one instance each, then the third
    # would put a second instance on a rack while only 2 of the 3 expected are in use.
    offers = RACKED[:4]
    req = make_request(constraints=(("rack", "GROUP_BY", "3"),))
    result = place([(req, 4)], offers, {}, seed=0)
    assert racks(result, offers) == {"r1": 1, "r2": 1}
    unplaced = result.unplaced["/web"]
    assert (unplaced.count, dict(unplaced.reasons)) == (2, {"UnfulfilledConstraint": 4})
    assert {r.detail for r in unplaced.details} == {
        "constraint rack GROUP_BY 3: waiting for 3 distinct rack values, 2 in use"
    }


def test_max_per_rack() -> None:
    # Two racks of three agents, at most 2 per rack: 4 of 6 fit, and for the fifth all six
    # offers are refused (each rack already has 2).
    offers = [
        make_offer(f"{r}-{i}", attributes=f"rack:{r}") for r in ("r1", "r2") for i in range(3)
    ]
    req = make_request(constraints=(("rack", "MAX_PER", "2"),))
    result = place([(req, 6)], offers, {}, seed=3)
    assert racks(result, offers) == {"r1": 2, "r2": 2}
    assert dict(result.unplaced["/web"].reasons) == {"UnfulfilledConstraint": 6}


def test_cluster_without_value_follows_the_first_running_instance() -> None:
    # One instance runs on r2: every new one must join it there (r2-1 or r2-2).
    req = make_request(constraints=(("rack", "CLUSTER", None),))
    result = place([(req, 3)], RACKED, {"/web": [on(RACKED[2], "w1")]}, seed=2)
    assert racks(result, RACKED) == {"r2": 3}


@pytest.mark.parametrize("seed", range(5))
def test_cluster_without_value_and_nothing_running_picks_one_rack(seed: int) -> None:
    # The first instance of the round decides the rack for the others.
    req = make_request(constraints=(("rack", "CLUSTER", None),))
    result = place([(req, 4)], RACKED, {}, seed=seed)
    assert len(racks(result, RACKED)) == 1
    assert sum(racks(result, RACKED).values()) == 4


def test_cluster_with_value() -> None:
    req = make_request(constraints=(("rack", "CLUSTER", "r3"),))
    result = place([(req, 3)], RACKED, {}, seed=0)
    assert racks(result, RACKED) == {"r3": 3}


def test_like_unlike_and_is() -> None:
    offers = [
        make_offer("h1", attributes="rack:rack-1;level:0.8"),
        make_offer("h2", attributes="rack:rack-2;level:1.5"),
        make_offer("h3", attributes="rack:rack-8;level:0.8"),
        make_offer("h4", attributes="level:10"),  # no rack at all
    ]
    one_each = ("hostname", "UNIQUE", None)

    def placed_on(constraint: tuple[str, str, str | None]) -> list[str]:
        req = make_request(constraints=(one_each, constraint))
        return sorted(hosts(place([(req, 4)], offers, {}, seed=0)))

    # LIKE is a full match, so "rack-[1-2]" takes h1 and h2 but not rack-8, nor h4 (no rack).
    assert placed_on(("rack", "LIKE", "rack-[1-2]")) == ["h1", "h2"]
    # UNLIKE refuses rack-8; h4 lacks the attribute, which passes UNLIKE only.
    assert placed_on(("rack", "UNLIKE", "rack-[7-9]")) == ["h1", "h2", "h4"]
    # IS on a scalar compares at 3 decimals: "0.80" is level 0.8 (h1, h3).
    assert placed_on(("level", "IS", "0.80")) == ["h1", "h3"]
    assert placed_on(("level", "IS", "10")) == ["h4"]
    # LIKE on a scalar matches its text form ("1.5", "10", "0.8").
    assert placed_on(("level", "LIKE", r"1\d*(\.\d+)?")) == ["h2", "h4"]


def test_zone_and_region_fields() -> None:
    offers = [
        make_offer("a", region="eu", zone="eu-1"),
        make_offer("b", region="eu", zone="eu-1"),
        make_offer("c", region="eu", zone="eu-2"),
        make_offer("d"),  # no fault domain
    ]
    req = make_request(constraints=(("@zone", "UNIQUE", None),))
    result = place([(req, 4)], offers, {}, seed=0)
    assert sorted(p.zone or "-" for p in result.placements) == ["eu-1", "eu-2"]
    assert sorted(r.detail for r in result.unplaced["/web"].details) == [
        "constraint @zone UNIQUE: agent has no fault domain zone",
        "constraint @zone UNIQUE: an instance already runs on zone eu-1",
        "constraint @zone UNIQUE: an instance already runs on zone eu-1",
        "constraint @zone UNIQUE: an instance already runs on zone eu-2",
    ]


# --------------------------------------------------------------------------- ports


def test_fixed_and_dynamic_ports() -> None:
    # Host ports (dynamic, 8080): the first instance gets 8080 and one of 31000-31003;
    # the second cannot have 8080 again on the only agent that offers it.
    offer = make_offer("a", "cpus:4;mem:4096;ports:[8080-8080, 31000-31003]")
    req = make_request(host_ports=(0, 8080))
    result = place([(req, 2)], [offer], {}, seed=11)
    [first] = result.placements
    assert first.host_ports[1] == 8080
    assert 31000 <= first.host_ports[0] <= 31003
    assert first.resources.ranges_of("ports") == tuple(sorted((p, p) for p in first.host_ports))
    assert [r.detail for r in result.unplaced["/web"].details] == ["no free host port 8080"]
    assert dict(result.unplaced["/web"].reasons) == {"InsufficientPorts": 1}


def test_dynamic_ports_are_never_handed_out_twice() -> None:
    # Four ports, two per instance: two instances fit, with disjoint ports; the third finds
    # none left.
    offer = make_offer("a", "cpus:4;mem:4096;ports:[31000-31003]")
    result = place([(make_request(host_ports=(0, 0)), 3)], [offer], {}, seed=4)
    ports = [port for p in result.placements for port in p.host_ports]
    assert sorted(ports) == [31000, 31001, 31002, 31003]
    assert result.leftover["O-a"] == Resources.of(cpus=3, mem=4096 - 256)
    assert [r.detail for r in result.unplaced["/web"].details] == ["2 host ports needed, 0 offered"]


def test_require_ports_needs_the_exact_port() -> None:
    offers = [make_offer("a"), make_offer("b", "cpus:4;mem:4096;ports:[80-80, 31000-31009]")]
    req = make_request(host_ports=(80,), require_ports=True)
    result = place([(req, 2)], offers, {}, seed=0)
    assert [(p.hostname, p.host_ports) for p in result.placements] == [("b", (80,))]
    assert {r.detail for r in result.unplaced["/web"].details} == {
        "no free host port 80 (requirePorts)"
    }


def test_require_ports_with_a_dynamic_port_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="requirePorts needs fixed host ports"):
        make_request(host_ports=(0,), require_ports=True)


# --------------------------------------------------------------------------- roles


ENG_AGENT = make_offer(
    "e",
    "cpus(eng):1;mem(eng):512;ports(eng):[9000-9001];cpus:2;mem:1024;ports:[31000-31001]",
    role="eng",
)


def test_reserved_resources_are_used_first_and_keep_their_role() -> None:
    # Role eng accepts "*" and "eng" by default. 1.5 cpus: the 1 reserved to eng, then 0.5
    # unreserved; 256 mem all from eng's 512; the port from eng's range.
    req = make_request(role="eng", cpus=1.5, mem=256, host_ports=(0,))
    [p] = place([(req, 1)], [ENG_AGENT], {}, seed=0).placements
    assert p.resources.reserved("eng").scalars() == {"cpus": 1.0, "mem": 256.0}
    assert p.resources.unreserved().scalars() == {"cpus": 0.5}
    assert p.host_ports[0] in (9000, 9001)
    assert p.resources.reserved("eng").port_count() == 1


def test_accepted_resource_roles_star_only() -> None:
    req = make_request(role="eng", cpus=1.5, mem=256, host_ports=(0,), accepted_roles=("*",))
    [p] = place([(req, 1)], [ENG_AGENT], {}, seed=0).placements
    assert p.resources.reserved("eng").is_empty()
    assert p.host_ports[0] in (31000, 31001)


def test_accepted_resource_roles_reserved_only() -> None:
    req = make_request(role="eng", cpus=1.5, accepted_roles=("eng",))
    result = place([(req, 1)], [ENG_AGENT], {}, seed=0)
    assert [r.detail for r in result.unplaced["/web"].details] == [
        "insufficient cpus: 1.5 needed, 1 offered"
    ]


def test_unaccepted_role_is_an_unfulfilled_role() -> None:
    only_eng = make_offer("r", "cpus(eng):4;mem(eng):4096", role="eng")
    req = make_request(role="eng", accepted_roles=("*",))
    result = place([(req, 1)], [only_eng], {}, seed=0)
    unplaced = result.unplaced["/web"]
    assert dict(unplaced.reasons) == {"UnfulfilledRole": 1}
    assert unplaced.details[0].detail == "role 'eng' not accepted (acceptedResourceRoles: *)"


# --------------------------------------------------------------------------- the round


def test_spread_and_binpack() -> None:
    offers = [make_offer("a", "cpus:4;mem:4096"), make_offer("b", "cpus:3;mem:4096")]
    spread = place([(make_request(), 2)], offers, {}, seed=0)
    assert sorted(hosts(spread)) == ["a", "b"]
    # Binpack fills the fuller agent: b, then b again (2.5 cpus left < a's 4).
    packed = place(
        [(make_request(), 2)], offers, {}, seed=0, options=PlacementOptions(strategy="binpack")
    )
    assert hosts(packed) == ["b", "b"]


def test_apps_take_turns() -> None:
    # Room for four 0.5-cpu instances. /big asks 5, /small 1: round-robin gives /small its
    # one before /big's fourth, so /big gets 3 and is told why the other 2 did not fit.
    offer = make_offer("a", "cpus:2;mem:4096")
    result = place([(make_request("/big"), 5), (make_request("/small"), 1)], [offer], {}, seed=0)
    assert (len(result.by_app["/big"]), len(result.by_app["/small"])) == (3, 1)
    assert result.unplaced["/big"].count == 2
    assert dict(result.unplaced["/big"].reasons) == {"InsufficientCpus": 1}
    assert "/small" not in result.unplaced


def test_leftover_used_and_unused_offers() -> None:
    offers = [make_offer("a", "cpus:1;mem:512"), make_offer("b", "cpus:0.1;mem:512")]
    result = place([(make_request(cpus=0.5), 2)], offers, {}, seed=0)
    assert result.used_offers == ("O-a",)
    assert result.unused_offers() == ("O-b",)
    assert result.leftover == {"O-a": Resources.of(mem=256), "O-b": offers[1].resources}


def test_no_offers_no_placements() -> None:
    result = place([(make_request(), 2)], [], {}, seed=0)
    assert result.placements == ()
    unplaced = result.unplaced["/web"]
    assert (unplaced.count, dict(unplaced.reasons), unplaced.processed_offers) == (2, {}, 0)


def test_zero_instances_asked() -> None:
    result = place([(make_request(), 0)], [make_offer("a")], {}, seed=0)
    assert (result.placements, dict(result.unplaced)) == ((), {})


def test_caller_bugs_raise() -> None:
    with pytest.raises(ValueError, match="more than once"):
        place([(make_request(), 1), (make_request(), 1)], [], {}, seed=0)
    with pytest.raises(ValueError, match="duplicate offer ids"):
        place([], [make_offer("a"), make_offer("a")], {}, seed=0)
    with pytest.raises(ValueError, match="negative"):
        place([(make_request(), -1)], [], {}, seed=0)


# --------------------------------------------------------------------------- properties

CONSTRAINT_POOL: list[tuple[str, str, str | None]] = [
    ("hostname", "UNIQUE", None),
    ("rack", "UNIQUE", None),
    ("rack", "GROUP_BY", None),
    ("rack", "GROUP_BY", "2"),
    ("@zone", "GROUP_BY", None),
    ("rack", "MAX_PER", "2"),
    ("hostname", "MAX_PER", "1"),
    ("rack", "CLUSTER", None),
    ("rack", "CLUSTER", "r1"),
    ("rack", "LIKE", "r[12]"),
    ("rack", "UNLIKE", "r3"),
    ("level", "IS", "0.8"),
    ("@zone", "UNIQUE", None),
]


@st.composite
def offer_lists(draw: st.DrawFn) -> list[OfferView]:
    offers = []
    for i in range(draw(st.integers(1, 7))):
        parts = [
            f"cpus:{draw(st.integers(0, 8)) / 2}",
            f"mem:{draw(st.sampled_from([0, 128, 512, 1024]))}",
        ]
        if draw(st.booleans()):
            parts.append(f"cpus(eng):{draw(st.sampled_from([0.5, 1]))};mem(eng):256")
        ports = draw(st.integers(0, 4))
        if ports:
            parts.append(f"ports:[31000-{31000 + ports - 1}]")
        if draw(st.booleans()):
            parts.append("ports(eng):[80-80]")
        rack = draw(st.sampled_from(["r1", "r2", "r3", None]))
        attrs = f"level:{draw(st.sampled_from(['0.8', '0.800', '1', '2.5']))}"
        if rack:
            attrs += f";rack:{rack}"
        offers.append(
            make_offer(
                f"h{i}",
                ";".join(parts),
                attrs,
                role=draw(st.sampled_from(["*", "eng", None])),
                zone=draw(st.sampled_from([None, "z1", "z2"])),
            )
        )
    return offers


@st.composite
def requests(draw: st.DrawFn, app_id: str) -> PlacementRequest:
    host_ports = tuple(draw(st.lists(st.sampled_from([0, 0, 80, 31001]), max_size=3)))
    require = bool(host_ports) and 0 not in host_ports and draw(st.booleans())
    role = draw(st.sampled_from(["*", "eng"]))
    accepted = draw(st.sampled_from([None, ("*",), (role,), ("*", role)]))
    return make_request(
        app_id,
        cpus=draw(st.sampled_from([0.1, 0.5, 1.0])),
        mem=draw(st.sampled_from([0, 64, 256])),
        role=role,
        accepted_roles=accepted,
        constraints=tuple(
            draw(st.lists(st.sampled_from(CONSTRAINT_POOL), max_size=2, unique=True))
        ),
        host_ports=host_ports,
        require_ports=require,
    )


Scenario = tuple[
    list[tuple[PlacementRequest, int]],
    list[OfferView],
    dict[str, list[PlacedInstance]],
    int,
    PlacementOptions,
]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    offers = draw(offer_lists())
    apps = [f"/a{i}" for i in range(draw(st.integers(1, 3)))]
    reqs = [(draw(requests(app_id)), draw(st.integers(0, 5))) for app_id in apps]
    placed = {
        app_id: [
            on(draw(st.sampled_from(offers)), f"{app_id}.{k}")
            for k in range(draw(st.integers(0, 3)))
        ]
        for app_id in apps
    }
    options = PlacementOptions(strategy=draw(st.sampled_from(["spread", "binpack"])))
    return reqs, offers, placed, draw(st.integers(0, 2**32)), options


def run(s: Scenario) -> PlacementResult:
    reqs, offers, placed, seed, options = s
    return place(reqs, offers, placed, seed=seed, options=options)


@given(scenarios())
def test_never_places_more_than_asked(s: Scenario) -> None:
    result = run(s)
    for req, count in s[0]:
        got = len(result.by_app.get(req.app_id, ()))
        missing = result.unplaced[req.app_id].count if req.app_id in result.unplaced else 0
        assert got + missing == count  # exactly what was asked, placed or explained
    assert len(result.placements) == sum(len(ps) for ps in result.by_app.values())


@given(scenarios())
def test_never_uses_more_of_an_offer_than_it_holds(s: Scenario) -> None:
    result = run(s)
    for offer in s[1]:
        mine = [p for p in result.placements if p.offer_id == offer.id]
        used = Resources.empty()
        for p in mine:
            used = used + p.resources
        assert offer.resources.contains(used)
        assert used + result.leftover[offer.id] == offer.resources
        # Per port, no double use: the ports of all placements are disjoint.
        assert used.port_count() == sum(p.resources.port_count() for p in mine)


@given(scenarios())
def test_every_placement_was_feasible_given_everything_before_it(s: Scenario) -> None:
    # Replay the round in order with the one-shot feasibility check.
    reqs, offers, placed, _, options = s
    result = run(s)
    by_id = {o.id: o for o in offers}
    request_of = {req.app_id: req for req, _ in reqs}
    remaining = {o.id: o.resources for o in offers}
    so_far: dict[str, list[PlacedInstance]] = {k: list(v) for k, v in placed.items()}
    for n, p in enumerate(result.placements):
        req = request_of[p.app_id]
        offer = by_id[p.offer_id]
        rejection = check_offer(
            req, offer, so_far[p.app_id], remaining=remaining[p.offer_id], options=options
        )
        assert rejection is None, f"placement {n} of {p.app_id}: {rejection}"
        assert all(w in (0, got) for w, got in zip(req.host_ports, p.host_ports, strict=True))
        assert p.resources.port_count() == len(set(p.host_ports))
        assert p.resources.scalar_quantities() == req.needs()
        remaining[p.offer_id] = remaining[p.offer_id] - p.resources
        so_far[p.app_id].append(p.as_placed(f"new{n}"))


def _values(field: str, where: Sequence[OfferView | PlacedInstance]) -> list[str]:
    return [v for w in where if (v := field_value(field, w)) is not None]


@given(scenarios())
def test_unique_and_max_per_hold(s: Scenario) -> None:
    reqs, _, placed, _, _ = s
    result = run(s)
    for req, _ in reqs:
        new = [p.as_placed("x") for p in result.by_app.get(req.app_id, ())]
        for field, op, value in req.constraints:
            before = _values(field, placed[req.app_id])
            added = _values(field, new)
            if op == "UNIQUE":
                assert len(set(added)) == len(added)
                assert not set(added) & set(before)
            if op == "MAX_PER":
                assert value is not None
                total = Counter(before + added)
                assert all(total[v] <= int(value) for v in added)


@given(scenarios())
@settings(max_examples=50)
def test_deterministic_for_a_seed(s: Scenario) -> None:
    assert run(s) == run(s)


@given(scenarios())
def test_unplaced_instances_are_explained(s: Scenario) -> None:
    result = run(s)
    for unplaced in result.unplaced.values():
        assert unplaced.count > 0
        assert unplaced.reasons  # the scenarios always have offers
        assert sum(unplaced.reasons.values()) == len(s[1]) == len(unplaced.details)
        assert all(r.detail for r in unplaced.details)


# --------------------------------------------------------------------------- timing


def _fleet(n: int) -> list[OfferView]:
    return [
        make_offer(
            f"node{i:04d}",
            "cpus:8;mem:16384;disk:100000;ports:[31000-31999]",
            f"rack:r{i % 20}",
        )
        for i in range(n)
    ]


@pytest.mark.slow
def test_time_to_place_100_instances_over_1000_offers(capsys: pytest.CaptureFixture[str]) -> None:
    # Prints, never asserts a time: machines are noisy. Run with -s to see the figures.
    offers = _fleet(1000)
    cases: Mapping[str, PlacementRequest] = {
        "plain, 2 dynamic ports": make_request(host_ports=(0, 0)),
        "hostname UNIQUE": make_request(constraints=(("hostname", "UNIQUE", None),)),
        "rack GROUP_BY (exhaustive scan)": make_request(constraints=(("rack", "GROUP_BY", None),)),
    }
    lines = []
    for name, req in cases.items():
        started = time.perf_counter()
        result = place([(req, 100)], offers, {}, seed=42)
        elapsed = time.perf_counter() - started
        assert len(result.placements) == 100
        lines.append(f"place 100 instances over 1000 offers ({name}): {elapsed * 1000:.1f} ms")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
