"""Mesos task states, reasons and sources.

Names are the Mesos v1 enum names, because they travel unchanged in status updates.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    STAGING = "TASK_STAGING"
    STARTING = "TASK_STARTING"
    RUNNING = "TASK_RUNNING"
    KILLING = "TASK_KILLING"
    FINISHED = "TASK_FINISHED"
    FAILED = "TASK_FAILED"
    KILLED = "TASK_KILLED"
    ERROR = "TASK_ERROR"
    LOST = "TASK_LOST"
    DROPPED = "TASK_DROPPED"
    UNREACHABLE = "TASK_UNREACHABLE"
    GONE = "TASK_GONE"
    GONE_BY_OPERATOR = "TASK_GONE_BY_OPERATOR"
    UNKNOWN = "TASK_UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        TaskState.FINISHED,
        TaskState.FAILED,
        TaskState.KILLED,
        TaskState.ERROR,
        TaskState.LOST,
        TaskState.DROPPED,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
    }
)

# States a framework without the PARTITION_AWARE capability never sees: the master
# reports TASK_LOST instead (see mesos.md, section e).
PARTITION_AWARE_ONLY = frozenset(
    {
        TaskState.DROPPED,
        TaskState.UNREACHABLE,
        TaskState.GONE,
        TaskState.GONE_BY_OPERATOR,
        TaskState.UNKNOWN,
    }
)


def for_framework(state: TaskState, *, partition_aware: bool) -> TaskState:
    """The state a framework is told about, given its capabilities.

    >>> for_framework(TaskState.UNREACHABLE, partition_aware=False)
    <TaskState.LOST: 'TASK_LOST'>
    """
    if not partition_aware and state in PARTITION_AWARE_ONLY:
        return TaskState.LOST
    return state


class Source(StrEnum):
    MASTER = "SOURCE_MASTER"
    AGENT = "SOURCE_AGENT"
    EXECUTOR = "SOURCE_EXECUTOR"


class Reason(StrEnum):
    """The subset of ``TaskStatus.Reason`` Berth produces."""

    COMMAND_EXECUTOR_FAILED = "REASON_COMMAND_EXECUTOR_FAILED"
    CONTAINER_LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
    CONTAINER_LIMITATION_MEMORY = "REASON_CONTAINER_LIMITATION_MEMORY"
    CONTAINER_LIMITATION_DISK = "REASON_CONTAINER_LIMITATION_DISK"
    EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
    TASK_INVALID = "REASON_TASK_INVALID"
    TASK_UNKNOWN = "REASON_TASK_UNKNOWN"
    INVALID_OFFERS = "REASON_INVALID_OFFERS"
    AGENT_DISCONNECTED = "REASON_AGENT_DISCONNECTED"
    AGENT_REMOVED = "REASON_AGENT_REMOVED"
    AGENT_RESTARTED = "REASON_AGENT_RESTARTED"
    AGENT_REREGISTERED = "REASON_AGENT_REREGISTERED"
    AGENT_UNKNOWN = "REASON_AGENT_UNKNOWN"
    FRAMEWORK_REMOVED = "REASON_FRAMEWORK_REMOVED"
    TASK_KILLED_DURING_LAUNCH = "REASON_TASK_KILLED_DURING_LAUNCH"
    RECONCILIATION = "REASON_RECONCILIATION"
    TASK_HEALTH_CHECK_STATUS_UPDATED = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    MAX_COMPLETION_TIME_REACHED = "REASON_MAX_COMPLETION_TIME_REACHED"
