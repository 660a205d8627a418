"""Scheduler events and master-made statuses (mesos.md sections 0, a and i): the JSON
shapes pymesos reads, and the rule that the master's own statuses carry no uuid."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.core.attributes import parse_attributes
from berth.core.jsonutil import JSON, dumps, id_of, loads
from berth.core.resources import Resources
from berth.core.states import Reason, TaskState
from berth.master import events
from tests.unit.master.factories import make_agent, make_offer

NOW = 1_700_000_000.25


# --------------------------------------------------------------------------- statuses


def test_a_minimal_master_status() -> None:
    assert events.master_status("web.1", TaskState.LOST, now=NOW) == {
        "task_id": {"value": "web.1"},
        "state": "TASK_LOST",
        "source": "SOURCE_MASTER",
        "timestamp": NOW,  # TaskStatus.timestamp is a double of seconds
    }


def test_a_full_master_status() -> None:
    status = events.master_status(
        "web.1",
        TaskState.UNREACHABLE,
        now=NOW,
        reason=Reason.AGENT_REMOVED,
        message="Agent is unreachable",
        agent_id="S1",
        unreachable_time=1000.5,
        healthy=False,
    )
    assert status == {
        "task_id": {"value": "web.1"},
        "state": "TASK_UNREACHABLE",
        "source": "SOURCE_MASTER",
        "timestamp": NOW,
        "reason": "REASON_AGENT_REMOVED",
        "message": "Agent is unreachable",
        "agent_id": {"value": "S1"},
        # TimeInfo: integer nanoseconds since the epoch.
        "unreachable_time": {"nanoseconds": 1_000_500_000_000},
        "healthy": False,
    }


def test_empty_message_is_left_out() -> None:
    assert "message" not in events.master_status("t", TaskState.ERROR, now=NOW, message="")


@given(
    st.text(min_size=1, max_size=20),
    st.sampled_from(list(TaskState)),
    st.floats(min_value=0, max_value=4e9),
    st.none() | st.sampled_from(list(Reason)),
    st.none() | st.text(max_size=20),
    st.none() | st.text(min_size=1, max_size=10),
    st.none() | st.floats(min_value=0, max_value=4e9),
    st.none() | st.booleans(),
)
def test_master_statuses_never_carry_a_uuid(
    task_id: str,
    state: TaskState,
    now: float,
    reason: Reason | None,
    message: str | None,
    agent_id: str | None,
    unreachable_time: float | None,
    healthy: bool | None,
) -> None:
    # pymesos acknowledges every update that has a uuid (and needs agent_id to do so);
    # the master's own statuses are never retried, so they must never ask for an ack.
    status = events.master_status(
        task_id,
        state,
        now=now,
        reason=reason,
        message=message,
        agent_id=agent_id,
        unreachable_time=unreachable_time,
        healthy=healthy,
    )
    assert "uuid" not in status
    assert status["source"] == "SOURCE_MASTER"
    assert status["task_id"] == id_of(task_id)
    assert status["state"] == state.value
    # Survives the wire unchanged.
    assert loads(dumps(events.update(status))) == {"type": "UPDATE", "update": {"status": status}}
    if unreachable_time is not None:
        ns = status["unreachable_time"]["nanoseconds"]
        assert isinstance(ns, int)
        assert math.isclose(ns / 1e9, unreachable_time, abs_tol=1e-6)
    assert ("healthy" in status) == (healthy is not None)
    assert ("agent_id" in status) == (agent_id is not None)


# --------------------------------------------------------------------------- events


def every_event() -> list[JSON]:
    agent = make_agent()
    return [
        events.HEARTBEAT,
        events.subscribed("F1", 15.0, {"id": "M", "version": "1.11.0"}),
        events.offers([events.offer_json(make_offer(), agent)]),
        events.rescind("O1"),
        events.update(events.master_status("t", TaskState.LOST, now=NOW)),
        events.agent_failure("S1"),
        events.error("Framework failed over"),
    ]


@pytest.mark.parametrize("event", every_event(), ids=lambda e: e["type"])
def test_every_event_has_its_lowercased_payload_key(event: JSON) -> None:
    # pymesos skips (and logs) any event but HEARTBEAT that lacks the lowercased key.
    if event["type"] == "HEARTBEAT":
        assert event == {"type": "HEARTBEAT"}
    else:
        assert set(event) == {"type", event["type"].lower()}
        assert isinstance(event[event["type"].lower()], dict)
    assert loads(dumps(event)) == event


def test_event_payloads_as_pymesos_reads_them() -> None:
    by_type = {e["type"]: e for e in every_event()}
    assert by_type["SUBSCRIBED"]["subscribed"]["framework_id"] == {"value": "F1"}
    assert by_type["SUBSCRIBED"]["subscribed"]["heartbeat_interval_seconds"] == 15.0
    assert by_type["SUBSCRIBED"]["subscribed"]["master_info"]["version"] == "1.11.0"
    # Offers nest twice: {"offers": {"offers": [...]}}.
    assert by_type["OFFERS"]["offers"]["offers"][0]["id"] == {"value": "O1"}
    assert by_type["RESCIND"]["rescind"] == {"offer_id": {"value": "O1"}}
    # Agent lost: FAILURE with only agent_id (executor_id would ask pymesos for status).
    assert by_type["FAILURE"]["failure"] == {"agent_id": {"value": "S1"}}
    assert by_type["ERROR"]["error"] == {"message": "Framework failed over"}
    assert by_type["UPDATE"]["update"]["status"]["state"] == "TASK_LOST"


# --------------------------------------------------------------------------- offers


def test_offer_json_shape() -> None:
    agent = make_agent(
        "S1",
        hostname="node1",
        ip="10.0.0.5",
        port=5051,
        attributes=parse_attributes("rack:r1;level:10"),
    )
    offer = make_offer(
        "O12", framework_id="F0", agent_id="S1", role="eng", resources=Resources.of(cpus=3.9)
    )
    assert events.offer_json(offer, agent) == {
        "id": {"value": "O12"},
        "framework_id": {"value": "F0"},
        "agent_id": {"value": "S1"},
        "hostname": "node1",
        "allocation_info": {"role": "eng"},
        "url": {
            "scheme": "http",
            "address": {"hostname": "node1", "ip": "10.0.0.5", "port": 5051},
            "path": "/slave(1)",
        },
        "resources": [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 3.9},
                "role": "*",
                "allocation_info": {"role": "eng"},
            }
        ],
        "attributes": [
            {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
            {"name": "level", "type": "SCALAR", "scalar": {"value": 10.0}},
        ],
        "executor_ids": [],
    }


def test_offered_reservations_keep_their_role_and_get_the_allocation_role() -> None:
    # eng/web is offered eng's reservation: reserved to eng, allocated to eng/web.
    offer = make_offer(role="eng/web", resources=Resources.parse_text("cpus(eng):2;mem:64"))
    resources = events.offer_json(offer, make_agent())["resources"]
    assert [(r["name"], r["role"], r["allocation_info"]["role"]) for r in resources] == [
        ("cpus", "eng", "eng/web"),
        ("mem", "*", "eng/web"),
    ]
    [cpus] = [r for r in resources if r["name"] == "cpus"]
    assert cpus["reservations"] == [{"type": "STATIC", "role": "eng"}]


_offer_resources = st.builds(
    lambda c, m, p, role: (
        Resources.of(cpus=c / 1000, mem=m, ports=p) + Resources.of(cpus=c / 2000, role=role)
    ),
    st.integers(0, 64_000),
    st.integers(0, 65_536),
    st.lists(st.tuples(st.integers(1, 100), st.integers(0, 5)).map(lambda p: (p[0], p[0] + p[1]))),
    st.sampled_from(["eng", "ops"]),
)


@given(_offer_resources, st.sampled_from(["*", "eng", "eng/web"]))
def test_offered_resources_read_back_as_offered(resources: Resources, role: str) -> None:
    # A framework launching exactly what it was offered must fit: the JSON must parse
    # back to the same resources, each one stamped with the offer's allocation role.
    offer = make_offer(role=role, resources=resources)
    out = loads(dumps(events.offer_json(offer, make_agent())))
    assert Resources.from_mesos(out["resources"]) == resources
    assert all(r["allocation_info"] == {"role": role} for r in out["resources"])
    assert out["allocation_info"] == {"role": role}
