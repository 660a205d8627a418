"""``berth up``'s plan: addresses, ports, resources, command lines and stop order (pure)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.cli.up_plan import (
    Kind,
    Machine,
    UpSettings,
    agent_address,
    agent_resources,
    not_ready_yet,
    plan,
    port_in_use_message,
    split_range,
    stop_waves,
)
from berth.core.errors import InvalidInput
from berth.core.resources import Resources

ports = st.integers(min_value=1024, max_value=65000)


@st.composite
def settings(draw: st.DrawFn, clash_free: bool = True) -> UpSettings:
    """Any settings; ``clash_free``: services on distinct ports, agents' ports (all on
    127.0.0.1 when there are no loopback aliases) above theirs."""
    low = draw(st.integers(min_value=1024, max_value=60000))
    agents = draw(st.integers(min_value=1, max_value=40))
    high = draw(st.integers(min_value=low + agents - 1, max_value=65535))
    if clash_free:
        master, marathon, gateway = draw(
            st.lists(st.integers(1024, 9999), min_size=3, max_size=3, unique=True)
        )
        agent_port = draw(st.integers(10000, 65000))
    else:
        master, marathon, gateway, agent_port = (draw(ports) for _ in range(4))
    return UpSettings(
        Path("/data"),
        agents=agents,
        master_port=master,
        agent_port=agent_port,
        marathon_port=marathon,
        gateway_port=draw(st.none() | st.just(gateway)),
        task_ports=(low, high),
        machine=Machine(
            cpus=draw(st.integers(1, 128)), mem=draw(st.integers(64, 10**6)), disk=10**5
        ),
        distinct_addresses=draw(st.booleans()),
    )


@given(st.integers(0, 60000), st.integers(0, 5000), st.integers(1, 300))
def test_split_range_cuts_the_range_into_disjoint_nearly_equal_contiguous_parts(
    low: int, extra: int, parts: int
) -> None:
    high = low + extra
    if extra + 1 < parts:
        with pytest.raises(InvalidInput):
            split_range(low, high, parts)
        return
    out = split_range(low, high, parts)
    assert len(out) == parts
    assert out[0][0] == low
    assert out[-1][1] == high
    for (_, end), (start, _) in itertools.pairwise(out):
        assert start == end + 1  # contiguous, hence disjoint
    sizes = [b - a + 1 for a, b in out]
    assert min(sizes) >= 1
    assert max(sizes) - min(sizes) <= 1


@given(settings(clash_free=False))
def test_two_children_never_share_an_address(s: UpSettings) -> None:
    """Flags that would put two services on one port are refused, naming them."""
    addresses = [
        ("127.0.0.1", s.master_port),
        ("127.0.0.1", s.marathon_port),
        *([("127.0.0.1", s.gateway_port)] if s.gateway_port is not None else []),
        *(agent_address(i, s) for i in range(1, s.agents + 1)),
    ]
    if len(set(addresses)) < len(addresses):
        with pytest.raises(InvalidInput, match="would both listen on"):
            plan(s)
    else:
        children = plan(s)
        assert len({c.address for c in children}) == len(children)


@given(settings())
def test_agents_look_like_machines(s: UpSettings) -> None:
    children = plan(s)
    agents = [c for c in children if c.kind is Kind.AGENT]
    assert len(agents) == s.agents
    assert len({c.address for c in children}) == len(children)
    assert len({c.name for c in children}) == len(children)
    assert len({c.log_path for c in children}) == len(children)
    assert len({c.work_dir for c in agents}) == s.agents
    if s.distinct_addresses:
        assert len({c.host for c in agents}) == s.agents
        assert all(c.host != "127.0.0.1" for c in agents)
    for agent in agents:
        argv = list(agent.argv)
        assert "--kill-tasks-on-exit" in argv
        # It binds, advertises and is known by the same address.
        for flag in ("--host", "--ip", "--hostname"):
            assert argv[argv.index(flag) + 1] == agent.host


@given(settings())
def test_agents_task_ports_are_disjoint_and_within_the_range(s: UpSettings) -> None:
    ranges: list[tuple[int, int]] = []
    for agent in (
        c for c in plan(replace(s, distinct_addresses=True, master_port=1)) if c.kind is Kind.AGENT
    ):
        argv = list(agent.argv)
        resources = Resources.parse_text(argv[argv.index("--resources") + 1])
        ranges.extend(resources.ranges_of("ports"))
    ranges.sort()
    assert ranges[0][0] >= s.task_ports[0]
    assert ranges[-1][1] <= s.task_ports[1]
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert start > end


@given(st.integers(1, 64), st.integers(1, 256), st.integers(64, 10**6))
def test_agents_together_never_offer_more_than_the_machine(
    cpus: int, agents: int, mem: int
) -> None:
    machine = Machine(cpus=cpus, mem=mem, disk=10**6)
    shares = [
        Resources.parse_text(agent_resources(machine, agents, (31000, 31000 + agents)))
        for _ in range(agents)
    ]
    if agents == 1:
        assert shares[0].names() == {"ports"}  # one agent detects the machine itself
        return
    if cpus / agents >= 0.01:
        assert sum(r.scalar_value("cpus") for r in shares) <= cpus + 1e-9  # float sums
    if mem >= agents:
        assert sum(r.scalar_value("mem") for r in shares) <= mem


@given(settings())
def test_stop_waves_front_ends_then_agents_then_the_master(s: UpSettings) -> None:
    children = plan(s)
    waves = stop_waves(children)
    flat = [c for wave in waves for c in wave]
    assert sorted(c.name for c in flat) == sorted(c.name for c in children)
    order = {c.name: i for i, wave in enumerate(waves) for c in wave}
    for c in children:
        if c.kind is Kind.AGENT:
            assert order[c.name] > order["marathon"]
            assert order[c.name] < order["master"]
    assert waves[-1] == [c for c in children if c.kind is Kind.MASTER]


def test_single_agent_keeps_the_agent_work_dir_and_detected_resources() -> None:
    (agent,) = [c for c in plan(UpSettings(Path("/d"))) if c.kind is Kind.AGENT]
    argv = list(agent.argv)
    assert agent.work_dir == Path("/d/agent")
    assert argv[argv.index("--resources") + 1] == "ports:[31000-32000]"
    assert agent.address == "127.0.0.2:5051"


def test_no_gateway_leaves_it_out() -> None:
    names = [c.name for c in plan(UpSettings(Path("/d"), gateway_port=None))]
    assert names == ["master", "agent-1", "marathon"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agents": 0}, "--agents must be between 1 and 250"),
        ({"agents": 251}, "--agents must be between 1 and 250"),
        ({"task_ports": (32000, 31000)}, "--task-ports must be LOW-HIGH"),
        ({"task_ports": (31000, 31001), "agents": 3}, "too few for 3 agents"),
        ({"master_port": 70000}, "--master-port must be a port"),
        ({"marathon_port": 5050}, "give --master-port and --marathon-port different ports"),
        (
            {"distinct_addresses": False, "agents": 3, "marathon_port": 5053},
            "the agent-3 and the marathon would both listen on 127.0.0.1:5053",
        ),
    ],
)
def test_impossible_settings_are_refused_with_the_flag_named(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan(replace(UpSettings(Path("/d")), **change))  # type: ignore[arg-type]


def test_port_in_use_message_for_several_ports_suggests_another_up_is_running() -> None:
    children = plan(UpSettings(Path("/d")))
    message = port_in_use_message([c for c in children if c.kind is not Kind.AGENT])
    assert "\n" not in message
    assert message.startswith("berth up: ports already in use: 127.0.0.1:5050 (master), ")
    assert "is another berth up running?" in message
    assert message.endswith("with --master-port, --marathon-port, --gateway-port")


def test_not_ready_until_every_agent_is_active_and_marathon_connected() -> None:
    children = plan(UpSettings(Path("/d"), agents=2))
    agents = [
        {"hostname": "127.0.0.2", "port": 5051, "active": True},
        {"hostname": "127.0.0.3", "port": 5051, "active": False},
    ]
    marathon = {"name": "marathon", "connected": True}
    assert not_ready_yet(None, children) == [
        "agent-1 registered",
        "agent-2 registered",
        "marathon subscribed",
    ]
    summary = {"slaves": agents, "frameworks": [marathon]}
    assert not_ready_yet(summary, children) == ["agent-2 registered"]
    agents[1]["active"] = True
    assert not_ready_yet(summary, children) == []
