"""The orchestrator: keeps every app at its definition, through deployments.

It owns, on one event loop: the root group (what users asked for), the running
deployments, the instances, the launch delays. Three kinds of input change them:

- API changes arrive as a target root group (``deploy``): planned by the pure planner,
  versions stamped, written to the store in one transaction, then started;
- Mesos events (``on_event``): offers are matched against instances waiting to launch
  by the pure placement pipeline; status updates move instances;
- time: backoff delays expire, unreachable instances age.

Every one of them ends in ``kick()``; one converge task then re-reads everything and
acts (level-triggered, as in STYLE.md): relaunch instances whose task died, advance each
deployment's current step by what the pure ``steps.decide`` asks, keep apps outside
deployments at their instance count, ask the master for offers only when something
waits to launch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from berth.core.attributes import Attribute
from berth.core.errors import BerthError
from berth.core.jsonutil import JSON, id_value
from berth.core.states import TaskState
from berth.marathon import backoff, deployment, planner, steps
from berth.marathon.deployment import Action, DeploymentPlan, Step
from berth.marathon.events import EventBus
from berth.marathon.instances import (
    Condition,
    Goal,
    Instance,
    apply_status,
    new_instance_id,
    parse_task_id,
)
from berth.marathon.launcher import match_offers
from berth.marathon.mesos import MasterError, SchedulerClient
from berth.marathon.models.app import AppDefinition, UnreachableDisabled, VersionInfo
from berth.marathon.models.change import classify_change
from berth.marathon.models.errors import MarathonValidationError, Violation
from berth.marathon.models.group import Group, validate_root_group
from berth.marathon.models.pathid import PathId
from berth.marathon.models.ports import assign_service_ports
from berth.marathon.models.render import render_app
from berth.marathon.models.timestamps import format_timestamp
from berth.marathon.placement import OfferView, PlacedInstance, Unplaced
from berth.marathon.store import InstanceWriter, MarathonStore

log = logging.getLogger(__name__)

RECONCILE_INTERVAL = 60.0


class AppLocked(BerthError):
    """A change touches apps a running deployment is changing (409 unless forced)."""

    status = 409

    def __init__(self, deployment_ids: Sequence[str]) -> None:
        first = deployment_ids[0] if deployment_ids else ""
        super().__init__(
            "App is locked by one or more deployments. Override with the option "
            f"'?force=true'. View details at '/v2/deployments/{first}'."
        )
        self.deployment_ids = list(deployment_ids)


@dataclass(frozen=True, slots=True)
class MarathonConfig:
    master: str = "127.0.0.1:5050"
    hostname: str = "127.0.0.1"
    port: int = 8080
    framework_name: str = "marathon"
    role: str = "*"
    failover_timeout: float = 7 * 86400.0
    decline_seconds: float = 5.0  # refuse offers this long while work waits elsewhere
    idle_decline_seconds: float = 120.0  # ...and this long when nothing waits
    reconcile_interval: float = RECONCILE_INTERVAL


@dataclass(slots=True)
class DeploymentRun:
    plan: DeploymentPlan[AppDefinition]
    step: int = 0  # index of the current step; == total_steps when finished

    def to_json(self) -> JSON:
        return {
            "id": self.plan.id,
            "version": self.plan.version,
            "step": self.step,
            "steps": [
                [
                    {
                        "kind": a.kind,
                        "app": a.app_id,
                        "scaleTo": a.scale_to,
                        "kill": list(a.kill),
                    }
                    for a in s.actions
                ]
                for s in self.plan.steps
            ],
            "affected": list(self.plan.affected_apps),
            "original": {k: _version(v) for k, v in self.plan.original.items()},
            "target": {k: _version(v) for k, v in self.plan.target.items()},
        }


def _classify(old: AppDefinition, new: AppDefinition) -> planner.Change:
    # Untouched apps are the very same object: no need to compare 40 fields.
    return "none" if old is new else classify_change(old, new)


def _version(app: AppDefinition) -> str:
    return format_timestamp(app.version) if app.version else ""


def now_version() -> datetime:
    """A version timestamp: now, at Marathon's millisecond precision."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def stamp_versions(
    old: Group, new: Group, version: datetime, restart: Iterable[PathId] = ()
) -> tuple[Group, list[AppDefinition]]:
    """``new`` with every app's version set by what kind of change it is (reference 3.1),
    and the apps that got a new version.

    new app: version = lastScalingAt = lastConfigChangeAt = now; scale: version and
    lastScalingAt move; config change or restart: all three move; unchanged: untouched.
    """
    restart = set(restart)
    changed: list[AppDefinition] = []
    root = new
    for app in list(new.transitive_apps()):
        before = old.app(app.id)
        if before is app and app.id not in restart:
            continue  # untouched by this change (the very same object)
        if before is None:
            kind = "new"
        else:
            kind = classify_change(before, app)
            if app.id in restart:
                kind = "restart"
        if kind == "none" and before is not None:
            stamped = replace(app, version=before.version, version_info=before.version_info)
        else:
            info = before.version_info if before is not None else None
            if kind == "scale" and info is not None:
                info = VersionInfo(
                    last_scaling_at=version, last_config_change_at=info.last_config_change_at
                )
            else:
                info = VersionInfo(last_scaling_at=version, last_config_change_at=version)
            stamped = replace(app, version=version, version_info=info)
            changed.append(stamped)
        if stamped != app:
            root = root.with_app(stamped)
    return replace(root, version=version), changed


def _view_state(condition: Condition) -> steps.State:
    states: dict[Condition, steps.State] = {
        Condition.SCHEDULED: "scheduled",
        Condition.PROVISIONED: "staging",
        Condition.STAGING: "staging",
        Condition.STARTING: "starting",
        Condition.RUNNING: "running",
        Condition.KILLING: "killing",
        Condition.UNREACHABLE: "unreachable",
        Condition.UNREACHABLE_INACTIVE: "unreachable_inactive",
    }
    return states.get(condition, "terminal")


def instance_view(instance: Instance, app: AppDefinition | None) -> steps.InstanceView:
    return steps.InstanceView(
        instance_id=instance.instance_id,
        version=instance.version,
        state=_view_state(instance.condition),
        healthy=instance.healthy,
        has_health_checks=bool(app and app.health_checks),
        ready=True,
        started_at=instance.started_at,
        staged_at=instance.staged_at,
        goal="running" if instance.goal is Goal.RUNNING else "stopped",
        unreachable_since=instance.unreachable_since,
    )


@dataclass(slots=True)
class AgentView:
    hostname: str
    attributes: tuple[Attribute, ...] = ()
    region: str | None = None
    zone: str | None = None


@dataclass(slots=True)
class OfferCounters:
    processed: int = 0
    unused: int = 0
    last_unused_at: float | None = None
    last_used_at: float | None = None


class Orchestrator:
    def __init__(
        self,
        config: MarathonConfig,
        store: MarathonStore,
        instance_writer: InstanceWriter,
        bus: EventBus,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.writer = instance_writer
        self.bus = bus
        self.clock = clock
        self.root = Group(PathId(()))
        self.runs: dict[str, DeploymentRun] = {}
        self.instances: dict[str, Instance] = {}
        self.delays: dict[tuple[str, str], backoff.Delay] = {}
        self.last_failure: dict[str, JSON] = {}
        self.unplaced: dict[str, Unplaced] = {}
        self.offer_counters: dict[str, OfferCounters] = {}
        self.agents: dict[str, AgentView] = {}
        self.framework_id: str | None = None
        self.client: SchedulerClient | None = None
        self._apps: dict[tuple[str, str], AppDefinition] = {}  # (id, version) -> definition
        self._kicked = asyncio.Event()
        self._change_lock = asyncio.Lock()
        self._suppressed = False
        self._rng = random.Random()
        self._wakeup_at: float | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._launching: set[str] = set()  # task ids whose ACCEPT is on its way
        self._by_app: dict[str, set[str]] = {}  # app id -> its instance ids
        self._rendered: dict[tuple[str, str], JSON] = {}  # (app id, version) -> JSON
        self.ready = asyncio.Event()

    # ------------------------------------------------------------------ lookups

    def app(self, app_id: PathId) -> AppDefinition | None:
        return self.root.app(app_id)

    def app_definition(self, app_id: str, version: str) -> AppDefinition | None:
        return self._apps.get((app_id, version))

    def instances_of(self, app_id: PathId | str) -> list[Instance]:
        ids = self._by_app.get(str(app_id), ())
        return [self.instances[i] for i in ids]

    def deployments_of(self, app_id: PathId | str) -> list[str]:
        key = str(app_id)
        return [r.plan.id for r in self.runs.values() if key in r.plan.affected_apps]

    def _remember(self, app: AppDefinition) -> None:
        self._apps[(str(app.id), _version(app))] = app

    def rendered(self, app: AppDefinition) -> JSON:
        """``render_app(app)``, cached: a stored version never changes. A shallow copy,
        so callers may add top-level keys."""
        key = (str(app.id), _version(app))
        cached = self._rendered.get(key)
        if cached is None or self._apps.get(key) is not app:
            cached = render_app(app)
            if key[1]:
                self._rendered[key] = cached
        return dict(cached)

    # ------------------------------------------------------------------ start-up

    async def recover(self) -> None:
        loaded = await self.store.load()
        self.root = loaded.root
        self.framework_id = loaded.framework_id
        for app in self.root.transitive_apps():
            self._remember(app)
        for instance in loaded.instances:
            self.instances[instance.instance_id] = instance
            self._by_app.setdefault(instance.app_id, set()).add(instance.instance_id)
        for data in loaded.deployments:
            run = await self._load_run(data)
            if run is not None:
                self.runs[run.plan.id] = run
        for instance in self.instances.values():
            if (instance.app_id, instance.version) not in self._apps:
                stored = await self.store.app_version(
                    PathId.parse(instance.app_id), instance.version
                )
                if stored is not None:
                    self._remember(stored)
        log.info(
            "recovered %d apps, %d instances, %d deployments",
            sum(1 for _ in self.root.transitive_apps()),
            len(self.instances),
            len(self.runs),
        )

    async def _load_run(self, data: JSON) -> DeploymentRun | None:
        async def defs(versions: Mapping[str, str]) -> dict[str, AppDefinition]:
            out: dict[str, AppDefinition] = {}
            for app_id, version in versions.items():
                app = self._apps.get((app_id, version)) or await self.store.app_version(
                    PathId.parse(app_id), version
                )
                if app is not None:
                    out[app_id] = app
                    self._remember(app)
            return out

        try:
            plan = DeploymentPlan(
                id=data["id"],
                version=data["version"],
                steps=tuple(
                    Step(
                        tuple(
                            Action(a["kind"], a["app"], a.get("scaleTo"), tuple(a.get("kill", ())))
                            for a in step
                        )
                    )
                    for step in data["steps"]
                ),
                affected_apps=tuple(data["affected"]),
                original=await defs(data.get("original", {})),
                target=await defs(data.get("target", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            log.error("ignoring unreadable deployment %s: %s", data.get("id"), e)
            return None
        return DeploymentRun(plan, int(data.get("step", 0)))

    # ------------------------------------------------------------------ running

    async def run(self, client: SchedulerClient) -> None:
        self.client = client
        self.ready.set()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._converge_loop(), name="converge")
            tg.create_task(self._reconcile_loop(), name="reconcile")
            self.kick()

    def kick(self) -> None:
        self._kicked.set()

    async def _converge_loop(self) -> None:
        while True:
            timeout = None
            if self._wakeup_at is not None:
                timeout = max(0.0, self._wakeup_at - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kicked.wait(), timeout)
            self._kicked.clear()
            self._wakeup_at = None
            try:
                await self._converge()
            except MasterError as e:
                log.warning("master refused a call while converging: %s", e)
                self._wake_in(1.0)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval)
            await self.reconcile()

    def _wake_in(self, seconds: float) -> None:
        at = self.clock() + seconds
        if self._wakeup_at is None or at < self._wakeup_at:
            self._wakeup_at = at

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ converging

    async def _converge(self) -> None:
        now = self.clock()
        self._handle_unreachable(now)
        self._relaunch_dead(now)
        for run in list(self.runs.values()):
            await self._advance(run)
        self._keep_counts(now)
        await self._update_offer_interest(now)

    def _save(self, instance: Instance) -> None:
        old = self.instances.get(instance.instance_id)
        self.instances[instance.instance_id] = instance
        self._by_app.setdefault(instance.app_id, set()).add(instance.instance_id)
        self.writer.mark(instance)
        # Every change may enable another (a killed queued instance can be expunged, a
        # finished step lets the next one start): look again until nothing changes.
        self.kick()
        if old is None or old.condition is not instance.condition:
            self.bus.publish(
                "instance_changed_event",
                instanceId=instance.instance_id,
                condition=instance.condition.value,
                runSpecId=instance.app_id,
                agentId=instance.agent_id or "",
                host=instance.hostname or "",
                runSpecVersion=instance.version,
            )

    def _expunge(self, instance: Instance) -> None:
        self.instances.pop(instance.instance_id, None)
        ids = self._by_app.get(instance.app_id)
        if ids is not None:
            ids.discard(instance.instance_id)
            if not ids:
                del self._by_app[instance.app_id]
        self.writer.forget(instance.instance_id)
        self.kick()

    def _handle_unreachable(self, now: float) -> None:
        for instance in list(self.instances.values()):
            if instance.condition not in (Condition.UNREACHABLE, Condition.UNREACHABLE_INACTIVE):
                continue
            app = self.app_definition(instance.app_id, instance.version) or self.app(
                PathId.parse(instance.app_id)
            )
            strategy = None
            if app is not None and not isinstance(app.unreachable_strategy, UnreachableDisabled):
                s = app.unreachable_strategy
                strategy = steps.UnreachableStrategy(
                    s.inactive_after_seconds, s.expunge_after_seconds
                )
            verdict = steps.unreachable_decision(instance_view(instance, app), strategy, now)
            if verdict == "expunge":
                log.info("expunging unreachable instance %s", instance.instance_id)
                self._expunge(instance)
            elif verdict == "replace" and instance.condition is Condition.UNREACHABLE:
                self._save(replace(instance, condition=Condition.UNREACHABLE_INACTIVE))
            elif verdict == "wait" and strategy is not None:
                recheck = steps.unreachable_recheck_at(instance_view(instance, app), strategy, now)
                if recheck is not None:
                    self._wake_in(max(0.1, recheck - now))

    def _relaunch_dead(self, now: float) -> None:
        for instance in list(self.instances.values()):
            if not instance.condition.is_terminal:
                continue
            if instance.goal is Goal.STOPPED:
                self._expunge(instance)
            else:
                self._save(instance.rescheduled(instance.version, now))

    async def _advance(self, run: DeploymentRun) -> None:
        plan = run.plan
        while run.step < plan.total_steps:
            step = plan.steps[run.step]
            done = True
            for action in step.actions:
                if not self._act(plan, action):
                    done = False
            if not done:
                return
            self.bus.publish(
                "deployment_step_success",
                plan=self._plan_json(plan),
                currentStep={"actions": [a.to_json() for a in step.actions]},
            )
            run.step += 1
            await self.store.save_deployment(plan.id, run.to_json())
            if run.step < plan.total_steps:
                self._publish_step_info(run)
        await self._finish(run)

    def _act(self, plan: DeploymentPlan[AppDefinition], action: Action) -> bool:
        """Do what ``action`` needs now; True when it is complete."""
        app = plan.target.get(action.app_id) or plan.original.get(action.app_id)
        if app is None:
            return True
        instances = self.instances_of(action.app_id)
        version = _version(app)
        decision = steps.decide(
            action,
            version,
            app.instances,
            (
                app.upgrade_strategy.minimum_health_capacity,
                app.upgrade_strategy.maximum_over_capacity,
            ),
            app.kill_selection.value,
            [instance_view(i, app) for i in instances],
            resident=app.is_resident,
        )
        for _ in range(decision.launch):
            self._schedule_new(app)
        for instance_id in decision.kill:
            instance = self.instances.get(instance_id)
            if instance is not None:
                self._kill(instance)
        return decision.done

    async def _finish(self, run: DeploymentRun) -> None:
        plan = run.plan
        self.runs.pop(plan.id, None)
        await self.store.delete_deployments([plan.id])
        stopped = [
            a.app_id
            for s in plan.steps
            for a in s.actions
            if a.kind == "StopApplication" and self.app(PathId.parse(a.app_id)) is None
        ]
        for app_id in stopped:
            self.bus.publish("app_terminated_event", appId=app_id)
        if stopped and not any(
            any(a in r.plan.affected_apps for a in stopped) for r in self.runs.values()
        ):
            await self.store.commit(root=self.root, forget_apps=[PathId.parse(a) for a in stopped])
        self.bus.publish("deployment_success", id=plan.id, plan=self._plan_json(plan))
        log.info("deployment %s finished", plan.id)

    def _schedule_new(self, app: AppDefinition) -> None:
        instance = Instance(
            instance_id=new_instance_id(str(app.id)),
            app_id=str(app.id),
            version=_version(app),
            scheduled_at=self.clock(),
            role=app.role,
        )
        self._save(instance)

    def _kill(self, instance: Instance, *, keep_goal: bool = False) -> None:
        """Stop ``instance`` (for good, unless ``keep_goal``: then it is relaunched)."""
        if not keep_goal and instance.goal is not Goal.STOPPED:
            instance = replace(instance, goal=Goal.STOPPED)
            self._save(instance)
        if instance.condition is Condition.SCHEDULED:
            if not keep_goal:
                self._save(replace(instance, condition=Condition.KILLED))
            return
        if instance.has_task or instance.condition is Condition.UNREACHABLE_INACTIVE:
            app = self.app_definition(instance.app_id, instance.version)
            grace = app.task_kill_grace_period_seconds if app else None
            if self.client is not None:
                self._spawn(
                    self.client.kill(
                        instance.task_id,
                        instance.agent_id,
                        float(grace) if grace is not None else None,
                    )
                )

    def _keep_counts(self, now: float) -> None:
        """Apps outside deployments keep their instance count (replacing expunged
        instances, killing the surplus after unreachable ones came back)."""
        busy = {a for r in self.runs.values() for a in r.plan.affected_apps}
        for app in self.root.transitive_apps():
            key = str(app.id)
            if key in busy:
                continue
            live = [
                i
                for i in self.instances_of(key)
                if i.goal is Goal.RUNNING and i.condition is not Condition.UNREACHABLE_INACTIVE
            ]
            if len(live) < app.instances:
                for _ in range(app.instances - len(live)):
                    self._schedule_new(app)
            elif len(live) > app.instances:
                decision = steps.decide(
                    Action("ScaleApplication", key, scale_to=app.instances),
                    _version(app),
                    app.instances,
                    (1.0, 1.0),
                    app.kill_selection.value,
                    [instance_view(i, app) for i in self.instances_of(key)],
                )
                for instance_id in decision.kill:
                    self._kill(self.instances[instance_id])
        # Instances of apps that no longer exist and no deployment stops.
        known = {str(a.id) for a in self.root.transitive_apps()} | busy
        for instance in list(self.instances.values()):
            if instance.app_id not in known and instance.goal is Goal.RUNNING:
                self._kill(instance)

    def _ready_to_launch(self, now: float) -> list[Instance]:
        ready = []
        for instance in self.instances.values():
            if instance.goal is not Goal.RUNNING or instance.condition is not Condition.SCHEDULED:
                continue
            delay = self.delays.get((instance.app_id, instance.version))
            left = backoff.time_left(delay, now)
            if left > 0:
                self._wake_in(left)
                continue
            ready.append(instance)
        return ready

    async def _update_offer_interest(self, now: float) -> None:
        if self.client is None or not self.client.connected.is_set():
            return
        wanted = bool(self._ready_to_launch(now))
        if wanted and self._suppressed:
            self._suppressed = False
            await self.client.revive()
        elif not wanted and not self._suppressed:
            self._suppressed = True
            await self.client.suppress()

    # ------------------------------------------------------------------ Mesos events

    async def on_subscribed(self, framework_id: str) -> None:
        if framework_id != self.framework_id:
            self.framework_id = framework_id
            await self.store.save_framework_id(framework_id)
        self._suppressed = False
        log.info("subscribed to the master as framework %s", framework_id)
        self._spawn(self.reconcile())
        self.kick()

    async def reconcile(self) -> None:
        """Ask the master for the state of every task we think exists."""
        if self.client is None or not self.client.connected.is_set():
            return
        tasks = [
            (i.task_id, i.agent_id)
            for i in self.instances.values()
            if (i.has_task or i.condition is Condition.UNREACHABLE_INACTIVE)
            and i.task_id not in self._launching
        ]
        await self.client.reconcile([])
        if tasks:
            await self.client.reconcile(tasks)

    async def on_event(self, event: JSON) -> None:
        kind = event.get("type")
        if kind == "OFFERS":
            await self._on_offers(event.get("offers", {}).get("offers", []))
        elif kind == "UPDATE":
            await self._on_update(event.get("update", {}).get("status", {}))
        elif kind == "FAILURE":
            self.kick()

    async def _on_update(self, status: JSON) -> None:
        assert self.client is not None
        if isinstance(status.get("uuid"), str) and status.get("agent_id"):
            self._spawn(self.client.acknowledge(status))
        task_id = id_value(status.get("task_id")) or ""
        try:
            state = TaskState(str(status.get("state")))
        except ValueError:
            return
        parsed = parse_task_id(task_id)
        instance = self.instances.get(parsed[0]) if parsed else None
        if (
            instance is None
            or parsed is None
            or parsed[1] != instance.incarnation
            or instance.condition is Condition.SCHEDULED
        ):
            # Not the current task of a live instance: an older incarnation, a task of
            # an expunged instance, or news of a task already given up.
            if not state.is_terminal and state is not TaskState.UNREACHABLE:
                log.info("killing task %s that no instance owns", task_id)
                self._spawn(self.client.kill(task_id, id_value(status.get("agent_id")), None))
            return
        now = self.clock()
        updated = apply_status(instance, status, now)
        if updated == instance:
            return
        self._save(updated)
        self._publish_status(updated, status, state)
        if updated.healthy != instance.healthy:
            self._publish_health(updated)
        if state.is_terminal:
            self._record_end(instance, updated, status, state, now)
        self.kick()

    def _record_end(
        self, before: Instance, instance: Instance, status: JSON, state: TaskState, now: float
    ) -> None:
        app = self.app_definition(instance.app_id, instance.version)
        if instance.goal is Goal.RUNNING and backoff.grows_delay(state) and app is not None:
            key = (instance.app_id, instance.version)
            self.delays[key] = backoff.after_failure(
                self.delays.get(key),
                backoff.Backoff(
                    app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds
                ),
                now,
            )
        health_kill = (
            state is TaskState.KILLED
            and before.goal is Goal.RUNNING
            and (
                status.get("reason") == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
                or status.get("healthy") is False
            )
        )
        if health_kill:
            self.bus.publish(
                "unhealthy_instance_kill_event",
                appId=instance.app_id,
                taskId=before.task_id,
                instanceId=instance.instance_id,
                version=instance.version,
                reason=str(status.get("message", "health check failed")),
                host=instance.hostname or "",
                slaveId=instance.agent_id or "",
            )
        if state is not TaskState.KILLED or health_kill:
            self.last_failure[instance.app_id] = {
                "appId": instance.app_id,
                "host": instance.hostname or "",
                "message": str(status.get("message", "")),
                "state": state.value,
                "taskId": before.task_id,
                "timestamp": format_timestamp(datetime.fromtimestamp(now, UTC)),
                "version": instance.version,
                "slaveId": instance.agent_id or "",
            }

    def _publish_status(self, instance: Instance, status: JSON, state: TaskState) -> None:
        self.bus.publish(
            "status_update_event",
            slaveId=instance.agent_id or "",
            taskId=instance.task_id,
            taskStatus=state.value,
            message=str(status.get("message", "")),
            appId=instance.app_id,
            host=instance.hostname or "",
            ipAddresses=[{"ipAddress": ip, "protocol": "IPv4"} for ip in instance.ip_addresses],
            ports=list(instance.host_ports),
            version=instance.version,
        )

    def _publish_health(self, instance: Instance) -> None:
        self.bus.publish(
            "instance_health_changed_event",
            instanceId=instance.instance_id,
            runSpecId=instance.app_id,
            runSpecVersion=instance.version,
            healthy=instance.healthy,
        )
        self.bus.publish(
            "health_status_changed_event",
            appId=instance.app_id,
            instanceId=instance.instance_id,
            version=instance.version,
            alive=bool(instance.healthy),
        )

    async def _on_offers(self, offers: Sequence[JSON]) -> None:
        assert self.client is not None
        now = self.clock()
        views: list[OfferView] = []
        for offer in offers:
            try:
                view = OfferView.from_mesos(offer)
            except BerthError as e:
                log.warning("ignoring an offer I cannot read: %s", e)
                continue
            views.append(view)
            self.agents[view.agent_id] = AgentView(
                view.hostname, view.attributes, view.region, view.zone
            )
        ready = self._ready_to_launch(now)
        if not ready:
            await self.client.decline([v.id for v in views], self.config.idle_decline_seconds)
            return
        round_ = match_offers(
            ready,
            views,
            definition=self.app_definition,
            placed=self._placed,
            now=now,
            seed=self._rng.randrange(2**31),
        )
        by_offer: dict[str, list[JSON]] = {}
        launching = {launch.instance.task_id for launch in round_.launches}
        for launch in round_.launches:
            self._save(launch.instance)
            by_offer.setdefault(launch.offer_id, []).append(launch.task)
        # Until the master has our ACCEPT it would call these tasks gone: reconciliation
        # leaves them alone meanwhile (the master registers tasks before it answers).
        self._launching |= launching
        try:
            # The instances' records (their new incarnations) are durable before the
            # tasks exist: a crash now leaves tasks we know, never tasks we forgot.
            await self.writer.flush()
            for offer_id, infos in by_offer.items():
                await self.client.accept([offer_id], infos, self.config.decline_seconds)
        finally:
            self._launching -= launching
        if round_.unused_offers:
            await self.client.decline(list(round_.unused_offers), self.config.decline_seconds)
        self.unplaced = dict(round_.unplaced)
        launched_apps = {launch.instance.app_id for launch in round_.launches}
        for app_id in round_.apps:
            counters = self.offer_counters.setdefault(app_id, OfferCounters())
            counters.processed += len(views)
            if app_id in round_.unplaced:
                counters.unused += len(views)
                counters.last_unused_at = now
            if app_id in launched_apps:
                counters.last_used_at = now

    def _placed(self, app_id: str) -> list[PlacedInstance]:
        placed = []
        for instance in self.instances_of(app_id):
            if not instance.has_task or instance.agent_id is None:
                continue
            agent = self.agents.get(instance.agent_id)
            placed.append(
                PlacedInstance(
                    instance_id=instance.instance_id,
                    agent_id=instance.agent_id,
                    hostname=instance.hostname or (agent.hostname if agent else ""),
                    attributes=agent.attributes if agent else (),
                    region=agent.region if agent else None,
                    zone=agent.zone if agent else None,
                )
            )
        return placed

    # ------------------------------------------------------------------ changes (API)

    def _plan_json(self, plan: DeploymentPlan[AppDefinition]) -> JSON:
        def group(apps: Mapping[str, AppDefinition]) -> JSON:
            return {
                "id": "/",
                "apps": [render_app(a) for a in apps.values()],
                "groups": [],
                "pods": [],
                "dependencies": [],
                "version": plan.version,
            }

        return deployment.plan_json(plan, group(plan.original), group(plan.target))

    def _publish_step_info(self, run: DeploymentRun) -> None:
        step = run.plan.steps[run.step]
        self.bus.publish(
            "deployment_info",
            plan=self._plan_json(run.plan),
            currentStep={"actions": [a.to_json() for a in step.actions]},
        )

    async def deploy(
        self,
        target: Group,
        *,
        force: bool = False,
        restart: Iterable[PathId] = (),
        kill: Mapping[str, Iterable[str]] | None = None,
    ) -> DeploymentPlan[AppDefinition]:
        """Make ``target`` the root group and start the deployment that gets there."""
        async with self._change_lock:
            return await self._deploy(target, force=force, restart=restart, kill=kill)

    async def _deploy(
        self,
        target: Group,
        *,
        force: bool,
        restart: Iterable[PathId],
        kill: Mapping[str, Iterable[str]] | None,
    ) -> DeploymentPlan[AppDefinition]:
        version = now_version()
        restart = list(restart)
        target, changed = stamp_versions(self.root, target, version, restart)
        for app in changed:
            with_ports = assign_service_ports(target, app)
            if with_ports != app:
                target = target.with_app(with_ports)
        changed = [target.app(a.id) or a for a in changed]
        problems = validate_root_group(target)
        if problems:
            raise MarathonValidationError(problems)
        original = {str(a.id): a for a in self.root.transitive_apps()}
        wanted = {str(a.id): a for a in target.transitive_apps()}
        try:
            plan = planner.plan(
                original,
                wanted,
                dependencies=lambda a: [str(d) for d in a.dependencies],
                instances=lambda a: a.instances,
                classify=_classify,
                restart=[str(r) for r in restart],
                kill=kill,
                deployment_id=str(uuid.uuid4()),
                version=format_timestamp(version),
            )
        except planner.DependencyCycle as e:
            raise MarathonValidationError([Violation("/", str(e))]) from None
        running = [r.plan for r in self.runs.values()]
        conflicts = deployment.conflicting(plan, running)
        if conflicts and not force:
            raise AppLocked([c.id for c in conflicts])
        run = DeploymentRun(plan)
        await self.store.commit(
            root=target,
            new_apps=changed,
            deployment=None if plan.is_empty else (plan.id, run.to_json()),
            finished_deployments=[c.id for c in conflicts],
        )
        for cancelled in conflicts:
            self._cancel(cancelled.id, reason="cancelled by a forced deployment")
        self.root = target
        for app in changed:
            self._remember(app)
        self.bus.publish("group_change_success", groupId="/", version=format_timestamp(version))
        if not plan.is_empty:
            self.runs[plan.id] = run
            self._publish_step_info(run)
        else:
            self.bus.publish("deployment_success", id=plan.id, plan=self._plan_json(plan))
        for app_id in restart:
            for instance in self.instances_of(app_id):
                self.delays.pop((instance.app_id, instance.version), None)
        self.kick()
        return plan

    def _cancel(self, deployment_id: str, *, reason: str) -> None:
        run = self.runs.pop(deployment_id, None)
        if run is not None:
            self.bus.publish(
                "deployment_failed", id=deployment_id, plan=self._plan_json(run.plan), reason=reason
            )

    async def stop_deployment(self, deployment_id: str) -> None:
        """``DELETE /v2/deployments/{id}?force=true``: stop it where it is."""
        async with self._change_lock:
            self._cancel(deployment_id, reason="stopped")
            await self.store.delete_deployments([deployment_id])
            self.kick()

    async def rollback_deployment(self, deployment_id: str) -> DeploymentPlan[AppDefinition]:
        """``DELETE /v2/deployments/{id}``: revert its apps to what they were before."""
        async with self._change_lock:
            run = self.runs[deployment_id]
            target = self.root
            for app_id in run.plan.affected_apps:
                before = run.plan.original.get(app_id)
                path = PathId.parse(app_id)
                if before is None:
                    if target.app(path) is not None:
                        target = target.without_app(path)
                else:
                    target = target.with_app(replace(before, version=None, version_info=None))
            return await self._deploy(target, force=True, restart=(), kill=None)

    def kill_instances(self, instances: Iterable[Instance], *, wipe: bool) -> list[Instance]:
        """Kill without scaling: the instances are relaunched (``wipe``: replaced)."""
        killed = []
        for instance in instances:
            if wipe:
                self._kill(instance)
            else:
                self._kill(instance, keep_goal=True)
            killed.append(instance)
        self.kick()
        return killed

    def reset_delay(self, app_id: str) -> bool:
        found = [k for k in self.delays if k[0] == app_id]
        for key in found:
            del self.delays[key]
        self.kick()
        return bool(found) or any(
            i.condition is Condition.SCHEDULED for i in self.instances_of(app_id)
        )


def _log_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.warning("background call failed: %s", error)
