"""Simulated agents: thousands of them in one process, over the real agent channel.

Used by ``bench/`` to load a real master (``python -m berth.sim --master H:P --agents N``)
and by tests that need many agents without many processes. A simulated agent registers,
answers RUN_TASK with TASK_STARTING then TASK_RUNNING and KILL_TASK with TASK_KILLED, resends
each status update until it is acknowledged, and re-registers with its tasks when its
connection drops. Nothing is executed: tasks are records.

Modules: ``model`` (one agent's state machine, no I/O), ``agents`` (the asyncio shell:
WebSockets, timers, the ``Simulation`` of N agents), ``__main__`` (the command line).
"""

from berth.sim.agents import (
    SimConfig,
    SimStatistics,
    SimulatedAgent,
    Simulation,
    agent_specs,
    raise_open_file_limit,
)
from berth.sim.model import AgentSpec, SimAgentState, SimTask

__all__ = [
    "AgentSpec",
    "SimAgentState",
    "SimConfig",
    "SimStatistics",
    "SimTask",
    "SimulatedAgent",
    "Simulation",
    "agent_specs",
    "raise_open_file_limit",
]
