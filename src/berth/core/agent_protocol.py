"""The agent channel: Berth's own master <-> agent protocol.

The agent dials the master and keeps one WebSocket open (so agents can sit behind NAT).
Every frame is one JSON object with a ``type``. Liveness rides on WebSocket ping/pong.

agent -> master
  REGISTER       {agent: AgentInfo}                        first contact, master assigns the id
  REREGISTER     {agent_id, agent: AgentInfo, tasks: [ReportedTask], frameworks: [FrameworkInfo]}
  STATUS_UPDATE  {framework_id, status: TaskStatus (with uuid), latest_state}
  EXECUTOR_EXITED (reserved for custom executors)

master -> agent
  REGISTERED     {agent_id, master: MasterInfo}
  RUN_TASK       {framework: FrameworkInfo, task: TaskInfo}
  KILL_TASK      {framework_id, task_id, kill_policy?}
  ACKNOWLEDGE    {framework_id, task_id, uuid}
  SHUTDOWN_FRAMEWORK {framework_id}
  RECONCILE      {tasks: [{framework_id, task_id}]}   ask the agent to re-send latest states
  ERROR          {message}                             the master refuses the agent; it stops

AgentInfo:    {hostname, ip, port, resources (Mesos JSON list), attributes (Mesos JSON list),
               version, capabilities: [str]}
ReportedTask: {framework_id, task: TaskInfo, state, status: TaskStatus | null}

Mesos JSON is used for every embedded object so nothing is translated twice.
"""

from __future__ import annotations

from typing import Final

PATH: Final = "/api/berth/v1/agent"
VERSION: Final = 1

REGISTER: Final = "REGISTER"
REREGISTER: Final = "REREGISTER"
STATUS_UPDATE: Final = "STATUS_UPDATE"
REGISTERED: Final = "REGISTERED"
RUN_TASK: Final = "RUN_TASK"
KILL_TASK: Final = "KILL_TASK"
ACKNOWLEDGE: Final = "ACKNOWLEDGE"
SHUTDOWN_FRAMEWORK: Final = "SHUTDOWN_FRAMEWORK"
RECONCILE: Final = "RECONCILE"
ERROR: Final = "ERROR"


def channel_url(master: str) -> str:
    """``host:port`` or ``http://host:port`` -> the agent channel's WebSocket URL.

    >>> channel_url("127.0.0.1:5050")
    'ws://127.0.0.1:5050/api/berth/v1/agent'
    """
    address = master.strip().removeprefix("http://").removeprefix("ws://").rstrip("/")
    if ":" not in address:
        address += ":5050"
    return f"ws://{address}{PATH}"
