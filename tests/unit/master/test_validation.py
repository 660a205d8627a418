"""ACCEPT validation (mesos.md section a): task ids, the offers of one call, and the
per-task launch plan. Worked examples first, then safety properties."""

from __future__ import annotations

import copy
import doctest
from collections import Counter

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import berth.master.validation as validation_module
import tests.unit.master.factories as factories_module
from berth.core.jsonutil import JSON, id_of
from berth.core.resources import Resources
from berth.master.registry import Offer
from berth.master.validation import (
    MAX_TASK_ID_LENGTH,
    LaunchPlan,
    offers_problem,
    plan_launches,
    task_id_problem,
)
from tests.unit.master.factories import make_offer, task_info


def test_docstring_examples() -> None:
    for module in (validation_module, factories_module):
        failures, _ = doctest.testmod(module)
        assert failures == 0


OFFERED = Resources.of(cpus=4, mem=1024, ports=[(31000, 31009)])


def plan(
    *infos: JSON,
    offered: Resources = OFFERED,
    role: str = "*",
    taken: tuple[str, ...] = (),
) -> LaunchPlan:
    return plan_launches(infos, agent_id="S1", role=role, offered=offered, taken_task_ids=taken)


def launched(p: LaunchPlan) -> list[str]:
    return [t.task_id for t in p.launch]


def rejected(p: LaunchPlan) -> dict[str, str]:
    return {r.task_id: r.message for r in p.rejected}


# --------------------------------------------------------------------------- task ids


@pytest.mark.parametrize(
    ("task_id", "why"),
    [
        ("", "empty"),
        (".", "not allowed"),
        ("..", "not allowed"),
        ("a/b", "'/'"),
        ("/", "'/'"),
        ("a\\b", "'\\'"),
        ("a\nb", "control"),
        ("tab\there", "control"),
        ("nul\x00", "control"),
        ("del\x7f", "control"),
        ("x" * (MAX_TASK_ID_LENGTH + 1), "256"),
    ],
)
def test_bad_task_ids_are_rejected_with_a_reason(task_id: str, why: str) -> None:
    problem = task_id_problem(task_id)
    assert problem is not None
    assert why in problem


@pytest.mark.parametrize(
    "task_id",
    ["web.1", "a", "...", ".hidden", "x" * MAX_TASK_ID_LENGTH, "app_web.5f6e-7a:8", "é", "🐳.1"],
)
def test_good_task_ids_are_accepted(task_id: str) -> None:
    assert task_id_problem(task_id) is None


def test_task_id_length_counts_bytes_because_it_names_a_directory() -> None:
    # The task id becomes a sandbox directory name; file systems cap names at 255 *bytes*
    # (NAME_MAX), which is also what Mesos checks. 128 'é' are 128 characters but 256
    # bytes of UTF-8: an agent could never create that sandbox.
    assert task_id_problem("é" * 127 + "e") is None  # 255 bytes
    problem = task_id_problem("é" * 128)
    assert problem is not None
    assert "256" in problem


def _acceptable(task_id: str) -> bool:
    """Oracle, stated as mesos.md section a says it."""
    return (
        0 < len(task_id.encode("utf-8", "surrogatepass")) <= 255
        and task_id not in (".", "..")
        and "/" not in task_id
        and "\\" not in task_id
        and not any(ord(c) < 32 or ord(c) == 127 for c in task_id)
    )


@given(st.text(max_size=300))
def test_task_id_problem_matches_the_rules(task_id: str) -> None:
    problem = task_id_problem(task_id)
    assert (problem is None) == _acceptable(task_id)
    if problem is not None:
        assert problem  # a reason to show the framework, never an empty message


_good_chars = st.characters(
    exclude_categories=["Cs"], exclude_characters="/\\\x7f", min_codepoint=32
)


@given(
    st.text(_good_chars, min_size=1, max_size=60),
    st.sampled_from(["/", "\\", "\x00", "\x01", "\n", "\r", "\x1f", "\x7f"]),
    st.integers(min_value=0, max_value=60),
)
def test_one_bad_character_anywhere_spoils_an_id(good: str, bad: str, at: int) -> None:
    assume(good not in (".", ".."))
    assert task_id_problem(good) is None
    spoiled = good[:at] + bad + good[at:]
    assert task_id_problem(spoiled) is not None


# --------------------------------------------------------------------------- offers


def outstanding(*offers: Offer) -> dict[str, Offer]:
    return {o.id: o for o in offers}


def test_offers_of_one_agent_and_role_go_together() -> None:
    offers = outstanding(make_offer("O1"), make_offer("O2"))
    assert offers_problem(["O1"], "F1", offers) is None
    assert offers_problem(["O1", "O2"], "F1", offers) is None


@pytest.mark.parametrize(
    ("offer_ids", "why"),
    [
        ([], "No offers"),
        (["O1", "O1"], "Duplicate"),
        (["O9"], "no longer valid"),  # unknown: used, declined or rescinded already
        (["O1", "O9"], "no longer valid"),
        (["foreign"], "not made to framework F1"),
        (["O1", "other-agent"], "one agent"),
        (["O1", "other-role"], "one role"),
    ],
)
def test_offers_that_cannot_be_used_together(offer_ids: list[str], why: str) -> None:
    offers = outstanding(
        make_offer("O1"),
        make_offer("O2"),
        make_offer("foreign", framework_id="F2"),
        make_offer("other-agent", agent_id="S2"),
        make_offer("other-role", role="eng"),
    )
    problem = offers_problem(offer_ids, "F1", offers)
    assert problem is not None
    assert why in problem


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["F1", "F2"]), st.sampled_from(["S1", "S2"]), st.sampled_from("*e")
        ),
        max_size=5,
    ),
    st.lists(st.integers(0, 6), max_size=6),
)
def test_offers_problem_is_none_exactly_when_all_rules_hold(
    offers: list[tuple[str, str, str]], picks: list[int]
) -> None:
    table = outstanding(
        *(
            make_offer(f"O{i}", framework_id=f, agent_id=a, role=r)
            for i, (f, a, r) in enumerate(offers)
        )
    )
    offer_ids = [f"O{i}" for i in picks]
    used = [table.get(o) for o in offer_ids]
    ok = (
        bool(offer_ids)
        and len(set(offer_ids)) == len(offer_ids)
        and all(o is not None and o.framework_id == "F1" for o in used)
        and len({o.agent_id for o in used if o}) == 1
        and len({o.role for o in used if o}) == 1
    )
    assert (offers_problem(offer_ids, "F1", table) is None) == ok


# --------------------------------------------------------------------------- plan_launches


def test_tasks_consume_the_offer_in_order() -> None:
    # Offer cpus:4 mem:1024. a takes 1/512 (left 3/512); b wants 600 mem > 512: rejected,
    # and the call goes on; c takes 3/512, exactly what is left.
    p = plan(
        task_info("a", resources=Resources.of(cpus=1, mem=512)),
        task_info("b", resources=Resources.of(cpus=1, mem=600)),
        task_info("c", resources=Resources.of(cpus=3, mem=512)),
    )
    assert launched(p) == ["a", "c"]
    assert list(rejected(p)) == ["b"]
    assert "more resources" in rejected(p)["b"]
    assert p.leftover == Resources.of(ports=[(31000, 31009)])


def test_ports_are_consumed_like_everything_else() -> None:
    p = plan(
        task_info("a", resources=Resources.of(cpus=1, ports=[(31000, 31004)])),
        task_info("b", resources=Resources.of(cpus=1, ports=[(31004, 31004)])),  # taken by a
        task_info("c", resources=Resources.of(cpus=1, ports=[(31009, 31009)])),
        task_info("d", resources=Resources.of(cpus=1, ports=[(40000, 40000)])),  # not offered
    )
    assert launched(p) == ["a", "c"]
    assert sorted(rejected(p)) == ["b", "d"]
    assert p.leftover == Resources.of(cpus=2, mem=1024, ports=[(31005, 31008)])


def test_resources_are_stamped_with_the_allocation_role() -> None:
    # A framework in role eng/web gets an offer of unreserved resources allocated to
    # eng/web; its task resources say neither, and leave with both.
    p = plan(task_info("a"), role="eng/web")
    [task] = p.launch
    assert task.resources == Resources.of(cpus=0.5, mem=256)
    assert task.info["resources"] == [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 0.5},
            "role": "*",
            "allocation_info": {"role": "eng/web"},
        },
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 256.0},
            "role": "*",
            "allocation_info": {"role": "eng/web"},
        },
    ]


def test_task_info_is_not_modified_by_stamping() -> None:
    info = task_info("a", labels={"labels": [{"key": "k", "value": "v"}]})
    before = copy.deepcopy(info)
    [task] = plan(info).launch
    assert info == before
    assert task.info["labels"] == before["labels"]
    assert task.info["command"] == before["command"]


def test_resources_already_stamped_with_the_same_role_are_fine() -> None:
    info = task_info("a", resources=Resources.of(cpus=1).to_mesos(allocation_role="eng"))
    assert launched(plan(info, role="eng")) == ["a"]


def test_resources_allocated_to_another_role_are_rejected() -> None:
    # Mesos stamps only resources without allocation_info; one naming another role then
    # fails the containment check against offers allocated to this role.
    info = task_info("a", resources=Resources.of(cpus=1).to_mesos(allocation_role="ops"))
    p = plan(info, role="eng")
    assert launched(p) == []
    assert "ops" in rejected(p)["a"]


def test_reserved_resources_must_be_asked_for_with_their_role() -> None:
    # The agent reserved 2 cpus to eng; unreserved cpus are gone. A task asking for plain
    # cpus does not fit, one asking for cpus(eng) does.
    offered = Resources.parse_text("cpus(eng):2;mem:512")
    p = plan(
        task_info("plain", resources=Resources.of(cpus=1, mem=64)),
        task_info("reserved", resources=Resources.parse_text("cpus(eng):1;mem:64")),
        offered=offered,
        role="eng",
    )
    assert launched(p) == ["reserved"]
    assert p.leftover == Resources.parse_text("cpus(eng):1;mem:448")
    [task] = p.launch
    assert {(r["name"], r["role"]) for r in task.info["resources"]} == {
        ("cpus", "eng"),
        ("mem", "*"),
    }


def test_task_ids_in_use_are_rejected() -> None:
    # "in use" = a live or unreachable task of the framework, or an earlier task of the
    # same call that launched. A rejected task does not take its id.
    p = plan(
        task_info("live"),
        task_info("a"),
        task_info("a"),
        task_info("big", resources=Resources.of(cpus=100)),
        task_info("big"),
        taken=("live",),
    )
    assert launched(p) == ["a", "big"]
    assert [r.task_id for r in p.rejected] == ["live", "a", "big"]
    assert "already in use" in p.rejected[0].message
    assert "already in use" in p.rejected[1].message
    assert "more resources" in p.rejected[2].message


NEGATIVE = {"nanoseconds": -1}


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"task_id": id_of("a/b")}, "'/'"),
        ({"task_id": {"value": 7}}, "empty"),
        ({"agent_id": id_of("S2")}, "agent S2"),
        ({"command": None}, "exactly one"),
        ({"command": None, "executor": {"executor_id": id_of("e")}}, "not supported"),
        ({"executor": {"executor_id": id_of("e"), "command": {"value": "x"}}}, "exactly one"),
        ({"resources": []}, "no resources"),
        ({"resources": [{"name": "cpus", "type": "SCALAR"}]}, "Invalid resources"),
        ({"resources": [{"name": "cpus", "type": "RANGES", "ranges": {}}]}, "Invalid resources"),
        ({"resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}]}, "negative"),
        ({"kill_policy": {"grace_period": NEGATIVE}}, "kill_policy.grace_period"),
        ({"kill_policy": {"grace_period": {"seconds": 3}}}, "nanoseconds"),
        ({"kill_policy": "soon"}, "kill_policy"),
        ({"max_completion_time": NEGATIVE}, "max_completion_time"),
        ({"limits": {"disk": {"value": 10}}}, "'disk'"),
        ({"limits": {"cpus": {"value": 0.1}}}, "below"),  # request is 0.5
        ({"limits": {"mem": "lots"}}, "number"),
        ({"limits": [1]}, "object"),
        ({"health_check": {"type": "TCP", "tcp": {}}}, "health check"),
        ({"health_check": {"type": "HTTP", "http": {"port": 80}, "interval_seconds": 0}}, "health"),
    ],
)
def test_invalid_tasks_get_an_error_and_the_call_goes_on(changes: JSON, why: str) -> None:
    bad = task_info("bad")
    bad.update(changes)
    if bad.get("command") is None:
        bad.pop("command", None)
    p = plan(bad, task_info("good"))
    assert launched(p) == ["good"]
    [rejection] = p.rejected
    assert why in rejection.message
    # Nothing of the rejected task was consumed.
    assert p.leftover == Resources.of(cpus=3.5, mem=768, ports=[(31000, 31009)])


@pytest.mark.parametrize(
    "extra",
    [
        {"kill_policy": {"grace_period": {"nanoseconds": 3_000_000_000}}},
        {"kill_policy": {}},
        {"max_completion_time": {"nanoseconds": "60000000000"}},
        {"limits": {"cpus": {"value": 1.0}, "mem": 512}},  # proto form and the doc's bare form
        {"limits": {"mem": {"value": "Infinity"}}},
        {"health_check": {"type": "HTTP", "http": {"port": 8000, "path": "/health"}}},
        {"container": {"type": "DOCKER", "docker": {"image": "python:3.11-slim"}}},
    ],
)
def test_valid_optional_blocks_launch(extra: JSON) -> None:
    assert launched(plan(task_info("a", **extra))) == ["a"]


# --------------------------------------------------------------------------- properties

# Tasks are drawn from a small pool of ids (so duplicates happen) and small quantities
# on the 0.001 grid (so sums stay exact). Some are invalid on their own.
OFFER_PORTS = (31000, 31019)


@st.composite
def offers_strategy(draw: st.DrawFn) -> Resources:
    cpus = draw(st.integers(0, 4000)) / 1000
    mem = draw(st.integers(0, 2048))
    lo = draw(st.integers(OFFER_PORTS[0], OFFER_PORTS[1]))
    hi = draw(st.integers(lo, OFFER_PORTS[1]))
    ports = [(lo, hi)] if draw(st.booleans()) else []
    return Resources.of(cpus=cpus, mem=mem, ports=ports)


@st.composite
def task_strategy(draw: st.DrawFn) -> JSON:
    task_id = draw(st.sampled_from(["a", "b", "c", "d", "live", "", "x/y"]))
    cpus = draw(st.integers(0, 2000)) / 1000
    mem = draw(st.integers(0, 1024))
    ports: list[tuple[int, int]] = []
    if draw(st.booleans()):
        port = draw(st.integers(OFFER_PORTS[0] - 2, OFFER_PORTS[1] + 2))
        ports = [(port, port + draw(st.integers(0, 3)))]
    info = task_info(task_id, resources=Resources.of(cpus=cpus, mem=mem, ports=ports))
    if draw(st.integers(0, 9)) == 0:
        info["agent_id"] = id_of("S2")
    return info


@given(offers_strategy(), st.lists(task_strategy(), max_size=8), st.sampled_from(["*", "eng"]))
def test_plan_never_launches_more_than_the_offer_holds(
    offered: Resources, infos: list[JSON], role: str
) -> None:
    p = plan(*infos, offered=offered, role=role, taken=("live",))
    total = Resources.empty()
    for task in p.launch:
        total = total + task.resources
    # Contained, and nothing lost or invented: leftover + launched is the offer.
    assert offered.contains(total)
    assert p.leftover + total == offered
    # Every task is decided exactly once; rejections say why.
    assert len(p.launch) + len(p.rejected) == len(infos)
    assert Counter([*launched(p), *(r.task_id for r in p.rejected)]) == Counter(
        info["task_id"]["value"] for info in infos
    )
    assert all(r.message for r in p.rejected)
    # An id is launched at most once, and never one already taken.
    ids = launched(p)
    assert len(ids) == len(set(ids))
    assert "live" not in ids
    # What launches carries the allocation role on every resource.
    for task in p.launch:
        assert all(r["allocation_info"] == {"role": role} for r in task.info["resources"])
        assert Resources.from_mesos(task.info["resources"]) == task.resources


@given(offers_strategy(), st.lists(task_strategy(), max_size=8))
def test_plan_matches_a_plain_arithmetic_model(offered: Resources, infos: list[JSON]) -> None:
    # The model counts milli-cpus, mem and port numbers with ints and sets: a task
    # launches iff its id is good and free, it is on this agent, and it fits in what the
    # tasks before it (rejected ones excepted) left. In particular a rejection never
    # stops a later task that fits.
    cpus = round(offered.scalar_value("cpus") * 1000)
    mem = round(offered.scalar_value("mem"))
    ports = {p for b, e in offered.ranges_of("ports") for p in range(b, e + 1)}
    taken = {"live"}
    expected: list[str] = []
    for info in infos:
        task_id = info["task_id"]["value"]
        res = Resources.from_mesos(info["resources"])
        want_cpus = round(res.scalar_value("cpus") * 1000)
        want_mem = round(res.scalar_value("mem"))
        want_ports = {p for b, e in res.ranges_of("ports") for p in range(b, e + 1)}
        ok = (
            task_id_problem(task_id) is None
            and task_id not in taken
            and info["agent_id"]["value"] == "S1"
            and not res.is_empty()
            and want_cpus <= cpus
            and want_mem <= mem
            and want_ports <= ports
        )
        if ok:
            expected.append(task_id)
            taken.add(task_id)
            cpus -= want_cpus
            mem -= want_mem
            ports -= want_ports
    p = plan(*infos, offered=offered, taken=("live",))
    assert launched(p) == expected
    assert round(p.leftover.scalar_value("cpus") * 1000) == cpus
    assert round(p.leftover.scalar_value("mem")) == mem
    assert {q for b, e in p.leftover.ranges_of("ports") for q in range(b, e + 1)} == ports


_json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.floats() | st.text(max_size=4)
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["value", "nanoseconds", "type", "name", "x"]), children)
    ),
    max_leaves=8,
)


@given(
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            (
                "task_id",
                "agent_id",
                "resources",
                "command",
                "executor",
                "kill_policy",
                "max_completion_time",
                "limits",
                "health_check",
            ),
            _json,
        ),
    )
)
def test_garbage_task_infos_are_rejected_never_raised(info: JSON) -> None:
    # Bad input from a framework must become TASK_ERROR, never an exception in the master.
    p = plan(info)
    assert len(p.launch) + len(p.rejected) == 1
    assert all(r.message for r in p.rejected)
