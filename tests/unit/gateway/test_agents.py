"""The agent directory: cached master views, bounded refreshes, one fetch at a time."""

from __future__ import annotations

import asyncio
from typing import Any

from berth.gateway.agents import AgentDirectory, master_view


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Master:
    """Serves summaries; counts how often it was asked."""

    def __init__(self) -> None:
        self.agents: dict[str, str] = {"S0": "10.0.0.1:5051"}
        self.fetches = 0
        self.gate: asyncio.Event | None = None

    async def summary(self) -> dict[str, Any]:
        self.fetches += 1
        if self.gate is not None:
            await self.gate.wait()
        return {
            "hostname": "m1",
            "slaves": [{"id": i, "pid": f"slave(1)@{a}"} for i, a in self.agents.items()],
        }


def test_master_view_knows_active_frameworks_by_name() -> None:
    view = master_view(
        {
            "frameworks": [
                {"name": "Marathon", "hostname": "10.0.0.3", "active": True},
                {"name": "gone", "hostname": "10.0.0.4", "active": False},
                {"name": "nohost"},
            ]
        }
    )
    assert dict(view.frameworks) == {"marathon": "10.0.0.3"}


def test_master_view_skips_agents_without_an_address() -> None:
    view = master_view({"hostname": "h", "slaves": [{"id": "S0"}, "junk", {"pid": "x@y:1"}]})
    assert view.hostname == "h"
    assert dict(view.agents) == {}
    assert master_view({}).hostname == ""


async def test_known_agents_are_served_from_the_cache_within_the_ttl() -> None:
    master, clock = Master(), Clock()
    directory = AgentDirectory(master.summary, ttl=5, miss_interval=1, clock=clock)
    assert await directory.address("S0") == "10.0.0.1:5051"
    clock.now = 4.9
    assert await directory.address("S0") == "10.0.0.1:5051"
    assert master.fetches == 1
    clock.now = 5.1
    await directory.address("S0")
    assert master.fetches == 2


async def test_an_unknown_agent_refreshes_at_most_once_per_miss_interval() -> None:
    master, clock = Master(), Clock()
    directory = AgentDirectory(master.summary, ttl=5, miss_interval=1, clock=clock)
    assert await directory.address("S1") is None
    assert master.fetches == 1  # the first fetch is fresh: no second one
    clock.now = 0.5
    assert await directory.address("S1") is None
    assert master.fetches == 1
    master.agents["S1"] = "10.0.0.2:5051"
    clock.now = 1.6
    assert await directory.address("S1") == "10.0.0.2:5051"
    assert master.fetches == 2


async def test_concurrent_lookups_share_one_fetch() -> None:
    master = Master()
    master.gate = asyncio.Event()
    directory = AgentDirectory(master.summary)
    lookups = [asyncio.ensure_future(directory.address("S0")) for _ in range(10)]
    await asyncio.sleep(0)
    master.gate.set()
    assert await asyncio.gather(*lookups) == ["10.0.0.1:5051"] * 10
    assert master.fetches == 1


async def test_a_failed_fetch_is_raised_and_retried_next_time() -> None:
    calls = 0

    async def flaky() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("master down")
        return {"hostname": "m", "slaves": []}

    directory = AgentDirectory(flaky)
    try:
        await directory.view()
    except OSError:
        pass
    else:
        raise AssertionError("the failure should reach the caller")
    assert (await directory.view()).hostname == "m"
