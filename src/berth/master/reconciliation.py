"""Reconciliation decisions (pure).

Two kinds: a framework asking "what is the state of my tasks?" (RECONCILE), and an agent
coming back with the tasks it still runs (REREGISTER).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from berth.core.jsonutil import JSON
from berth.core.states import Reason, TaskState
from berth.master.events import master_status
from berth.master.registry import Agent, AgentStatus, Framework, Task


def task_status_for_reconciliation(task: Task, *, now: float) -> JSON:
    """The latest state of a known task, as RECONCILE answers it."""
    latest = task.latest_status or {}
    healthy = latest.get("healthy")
    status = master_status(
        task.task_id,
        task.state,
        now=now,
        reason=Reason.RECONCILIATION,
        agent_id=task.agent_id,
        unreachable_time=task.unreachable_time,
        healthy=healthy if isinstance(healthy, bool) else None,
    )
    # As in Mesos: a framework that failed over learns the task's container (its IP
    # addresses) from reconciliation, since the update that first carried it is gone.
    if isinstance(latest.get("container_status"), dict):
        status["container_status"] = latest["container_status"]
    return status


def reconcile(
    framework: Framework,
    requested: Sequence[tuple[str, str | None]],
    *,
    agents: Mapping[str, Agent],
    awaiting_reregistration: Collection[str],
    now: float,
) -> list[JSON]:
    """Statuses answering a RECONCILE call; ``requested`` holds (task_id, agent_id|None).

    Implicit (empty ``requested``): the latest state of every task the master knows for
    the framework. Explicit: per task, as Mesos does (mesos.md section e):

    ====================================  ===================================
    known task (also recently completed)  its latest state
    unknown, agent still expected back    no answer (the agent will tell)
    unknown, agent registered             TASK_GONE
    unknown, agent unreachable            TASK_UNREACHABLE
    unknown, nothing known                TASK_UNKNOWN
    ====================================  ===================================

    The caller maps the last three to TASK_LOST for frameworks that are not
    PARTITION_AWARE.
    """
    if not requested:
        tasks = [*framework.tasks.values(), *framework.unreachable_tasks.values()]
        return [task_status_for_reconciliation(t, now=now) for t in tasks]
    answers: list[JSON] = []
    completed: dict[str, Task] | None = None
    for task_id, agent_id in requested:
        task = framework.find_task(task_id)
        if task is None:
            # A task that ended recently is answered with how it ended, not as unknown:
            # a framework that has not processed that end yet must not think it vanished.
            if completed is None:
                completed = {t.task_id: t for t in framework.completed_tasks}
            task = completed.get(task_id)
        if task is not None:
            answers.append(task_status_for_reconciliation(task, now=now))
            continue
        if agent_id is None:
            if awaiting_reregistration:
                continue
            answers.append(
                master_status(task_id, TaskState.UNKNOWN, now=now, reason=Reason.RECONCILIATION)
            )
            continue
        agent = agents.get(agent_id)
        if agent_id in awaiting_reregistration:
            continue
        if agent is None:
            state = TaskState.UNKNOWN
        elif agent.status is AgentStatus.UNREACHABLE:
            state = TaskState.UNREACHABLE
        else:
            state = TaskState.GONE
        answers.append(
            master_status(
                task_id,
                state,
                now=now,
                reason=Reason.RECONCILIATION,
                agent_id=agent_id,
                unreachable_time=agent.unreachable_time if agent else None,
            )
        )
    return answers


@dataclass(frozen=True, slots=True)
class ReportedTask:
    framework_id: str
    task_id: str
    info: JSON
    state: TaskState
    status: JSON | None


@dataclass(frozen=True, slots=True)
class AgentReconciliation:
    """What to do when an agent re-registers with ``reported`` tasks."""

    refresh: tuple[tuple[Task, ReportedTask], ...]  # known: take the agent's state
    adopt: tuple[ReportedTask, ...]  # unknown to the master: add them
    kill: tuple[Task, ...]  # the framework asked to kill them meanwhile
    shutdown_frameworks: frozenset[str]  # removed frameworks: kill all their tasks
    missing: tuple[Task, ...]  # the master had them, the agent does not: lost


def reconcile_agent(
    known: Collection[Task],
    reported: Sequence[ReportedTask],
    *,
    removed_frameworks: Collection[str],
) -> AgentReconciliation:
    """Decide how an agent's report merges into what the master knew of it.

    The agent is the authority on what runs on it; the master adds what it did not know
    (after a master restart it knew nothing), remembers kills that could not be delivered,
    and lets nothing of a removed framework keep running.
    """
    by_key = {t.key: t for t in known}
    refresh: list[tuple[Task, ReportedTask]] = []
    adopt: list[ReportedTask] = []
    kill: list[Task] = []
    shutdown: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for r in reported:
        key = (r.framework_id, r.task_id)
        seen.add(key)
        if r.framework_id in removed_frameworks:
            shutdown.add(r.framework_id)
            continue
        task = by_key.get(key)
        if task is None:
            adopt.append(r)
            continue
        refresh.append((task, r))
        if task.kill_requested and not r.state.is_terminal:
            kill.append(task)
    missing = tuple(
        t
        for t in known
        if t.key not in seen
        and not t.state.is_terminal
        and t.framework_id not in removed_frameworks
    )
    return AgentReconciliation(
        tuple(refresh), tuple(adopt), tuple(kill), frozenset(shutdown), missing
    )
