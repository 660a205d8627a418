"""What the /v2 API shows: apps with their counts and tasks, tasks, groups, the queue.

Pure functions of the orchestrator's state; keys limited to what Marathon 1.10 sends and
the ``marathon`` Python client accepts (reference section 2.4-2.6).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime

from berth.core.jsonutil import JSON
from berth.marathon import backoff
from berth.marathon.deployment import deployment_json
from berth.marathon.instances import Condition, Instance
from berth.marathon.models.app import AppDefinition
from berth.marathon.models.group import Group
from berth.marathon.models.timestamps import format_timestamp
from berth.marathon.orchestrator import Orchestrator

_TASK_STATE = {
    Condition.PROVISIONED: "TASK_STAGING",
    Condition.STAGING: "TASK_STAGING",
    Condition.STARTING: "TASK_STARTING",
    Condition.RUNNING: "TASK_RUNNING",
    Condition.KILLING: "TASK_KILLING",
    Condition.UNREACHABLE: "TASK_UNREACHABLE",
    Condition.UNREACHABLE_INACTIVE: "TASK_UNREACHABLE",
}

# embed names, with or without their "app."/"apps."/"group.apps." prefixes
EMBEDS = frozenset(
    {"tasks", "counts", "deployments", "readiness", "lastTaskFailure", "failures", "taskStats"}
)


def embeds(values: Iterable[str]) -> frozenset[str]:
    """Normalise ``embed`` query values: ``app.tasks`` -> ``tasks``; ``failures`` expands.

    >>> sorted(embeds(["apps.failures", "app.counts"]))
    ['counts', 'deployments', 'lastTaskFailure', 'tasks']
    """
    out: set[str] = set()
    for value in values:
        name = value
        for prefix in ("group.apps.", "apps.", "app.", "group."):
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        if name == "failures":
            out.update({"tasks", "lastTaskFailure", "deployments"})
        elif name in EMBEDS:
            out.add(name)
    return frozenset(out)


def _ts(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))


def task_json(instance: Instance, app: AppDefinition | None) -> JSON:
    state = _TASK_STATE.get(instance.condition, "TASK_STAGING")
    out: JSON = {
        "id": instance.task_id,
        "appId": instance.app_id,
        "host": instance.hostname or "",
        "slaveId": instance.agent_id or "",
        "state": state,
        "stagedAt": _ts(instance.staged_at),
        "startedAt": _ts(instance.started_at),
        "version": instance.version,
        "ports": list(instance.host_ports),
        "servicePorts": list(app.service_ports) if app else [],
        "ipAddresses": [{"ipAddress": ip, "protocol": "IPv4"} for ip in instance.ip_addresses],
        "localVolumes": [],
        "role": instance.role,
    }
    if app is not None and app.health_checks and instance.healthy is not None:
        out["healthCheckResults"] = [
            {
                "alive": instance.healthy,
                "consecutiveFailures": 0 if instance.healthy else 1,
                "firstSuccess": None,
                "lastSuccess": None,
                "lastFailure": None,
                "lastFailureCause": None if instance.healthy else instance.message or None,
                "instanceId": instance.instance_id,
            }
        ]
    else:
        out["healthCheckResults"] = []
    return out


def visible_tasks(instances: Iterable[Instance]) -> list[Instance]:
    """Instances that have a task on an agent (queued ones have none yet)."""
    return [i for i in instances if i.condition in _TASK_STATE]


def counts(instances: Collection[Instance]) -> JSON:
    tasks = visible_tasks(instances)
    return {
        "tasksStaged": sum(
            1 for i in tasks if i.condition in (Condition.PROVISIONED, Condition.STAGING)
        ),
        "tasksRunning": sum(1 for i in tasks if i.condition is Condition.RUNNING),
        "tasksHealthy": sum(
            1 for i in tasks if i.condition is Condition.RUNNING and i.healthy is True
        ),
        "tasksUnhealthy": sum(1 for i in tasks if i.healthy is False),
    }


def app_info(
    orchestrator: Orchestrator, app: AppDefinition, embed: frozenset[str], *, single: bool = False
) -> JSON:
    """``AppInfo``: counts and deployments always; tasks etc. when embedded (or ``single``)."""
    out = orchestrator.rendered(app)
    instances = orchestrator.instances_of(app.id)
    out.update(counts(instances))
    out["deployments"] = [{"id": d} for d in orchestrator.deployments_of(app.id)]
    if single or "tasks" in embed:
        out["tasks"] = [
            task_json(i, orchestrator.app_definition(i.app_id, i.version) or app)
            for i in visible_tasks(instances)
        ]
    failure = orchestrator.last_failure.get(str(app.id))
    if failure is not None and (single or "lastTaskFailure" in embed):
        out["lastTaskFailure"] = failure
    if "readiness" in embed:
        out["readinessCheckResults"] = []
    return out


def deployments_json(orchestrator: Orchestrator) -> list[JSON]:
    return [
        deployment_json(run.plan, run.step + 1 if run.step < run.plan.total_steps else run.step)
        for run in orchestrator.runs.values()
    ]


def group_json(
    orchestrator: Orchestrator, group: Group, embed: frozenset[str], *, apps: bool = True
) -> JSON:
    return {
        "id": str(group.id),
        "apps": [app_info(orchestrator, a, embed) for a in group.apps.values()] if apps else [],
        "groups": [group_json(orchestrator, g, embed, apps=apps) for g in group.groups.values()],
        "pods": [],
        "dependencies": [str(d) for d in group.dependencies],
        "version": format_timestamp(group.version or orchestrator.root.version or _epoch()),
    }


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


def queue_json(orchestrator: Orchestrator, now: float) -> JSON:
    """``/v2/queue``: apps with instances waiting to launch, and why they wait."""
    waiting: dict[str, list[Instance]] = {}
    for instance in orchestrator.instances.values():
        if instance.condition is Condition.SCHEDULED and instance.goal.value == "running":
            waiting.setdefault(instance.app_id, []).append(instance)
    items = []
    for app_id, instances in sorted(waiting.items()):
        newest = max(instances, key=lambda i: i.version)
        app = orchestrator.app_definition(app_id, newest.version)
        if app is None:
            continue
        delay = orchestrator.delays.get((app_id, newest.version))
        unplaced = orchestrator.unplaced.get(app_id)
        counters = orchestrator.offer_counters.get(app_id)
        summary: JSON = {
            "processedOffersCount": counters.processed if counters else 0,
            "unusedOffersCount": counters.unused if counters else 0,
            "lastUnusedOfferAt": _ts(counters.last_unused_at) if counters else None,
            "lastUsedOfferAt": _ts(counters.last_used_at) if counters else None,
            "rejectSummaryLastOffers": unplaced.reject_summary() if unplaced else [],
            "rejectSummaryLaunchAttempt": unplaced.reject_summary() if unplaced else [],
        }
        items.append(
            {
                "count": len(instances),
                "delay": backoff.delay_json(delay, now),
                "since": _ts(min(i.scheduled_at for i in instances)),
                "processedOffersSummary": summary,
                "lastUnusedOffers": [
                    {"reason": r.reason.value, "detail": r.detail, "hostname": r.hostname}
                    for r in (unplaced.details if unplaced else ())
                ],
                "app": app_info(orchestrator, app, frozenset()),
            }
        )
    return {"queue": items}
