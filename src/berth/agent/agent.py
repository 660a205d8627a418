"""The agent: runs the tasks the master sends, reports on them, survives restarts.

Owns the task runners, the status-update manager and the checkpoint. The channel client
(``channel``) feeds it the master's commands; the HTTP API (``api``) reads its state.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import berth
from berth.agent.checkpoint import Checkpoint, CheckpointedTask
from berth.agent.containerizers import Containerizer, RecoveryRecord
from berth.agent.executor import TaskContext, TaskRunner, launched_from_json, new_uuid
from berth.agent.launch import launch_spec
from berth.agent.sandbox import create_sandbox
from berth.agent.status_updates import StatusUpdateManager
from berth.core import agent_protocol as proto
from berth.core.attributes import Attribute, attributes_to_mesos
from berth.core.errors import InvalidInput
from berth.core.jsonutil import JSON, id_of, id_value
from berth.core.resources import Resources
from berth.core.states import Reason, Source, TaskState

log = logging.getLogger(__name__)

MAX_COMPLETED_TASKS = 1000


@dataclass(frozen=True, slots=True)
class AgentConfig:
    work_dir: Path
    hostname: str
    ip: str
    port: int
    resources: Resources
    attributes: tuple[Attribute, ...] = ()
    status_update_backoff: float = 10.0


@dataclass(slots=True)
class CompletedTask:
    framework_id: str
    task: JSON
    state: TaskState
    statuses: list[JSON]
    sandbox: str
    container_id: str


@dataclass(slots=True)
class History:
    statuses: list[JSON] = field(default_factory=list)


def pick_containerizer(task: JSON, containerizers: Mapping[str, Containerizer]) -> Containerizer:
    """Docker for tasks with an image, the process containerizer for plain commands."""
    container = task.get("container")
    wants_image = isinstance(container, dict) and (
        container.get("type") == "DOCKER"
        or isinstance((container.get("mesos") or {}).get("image"), dict)
    )
    name = "docker" if wants_image else "process"
    found = containerizers.get(name)
    if found is None:
        raise InvalidInput(
            f"this agent has no {name} containerizer"
            + (" (is the Docker Engine running?)" if name == "docker" else "")
        )
    return found


class Agent:
    def __init__(self, config: AgentConfig, containerizers: Mapping[str, Containerizer]) -> None:
        self.config = config
        self.containerizers = dict(containerizers)
        self.checkpoint = Checkpoint(config.work_dir)
        self.agent_id: str | None = self.checkpoint.agent_id()
        self.start_time = time.time()
        self.master_hostname = ""
        self.runners: dict[tuple[str, str], TaskRunner] = {}
        self.frameworks: dict[str, JSON] = {}
        self.histories: dict[tuple[str, str], History] = {}
        self.completed: deque[CompletedTask] = deque(maxlen=MAX_COMPLETED_TASKS)
        self._send: Callable[[JSON], bool] = lambda _: False
        self.updates = StatusUpdateManager(
            self.checkpoint,
            lambda frame: self._send(frame),
            self._latest_state,
            initial_backoff=config.status_update_backoff,
        )
        self._group: asyncio.TaskGroup | None = None
        self._recovered: list[TaskRunner] = []
        self.registered = asyncio.Event()

    # ------------------------------------------------------------------ identity

    def agent_info(self) -> JSON:
        c = self.config
        return {
            "hostname": c.hostname,
            "ip": c.ip,
            "port": c.port,
            "resources": c.resources.to_mesos(),
            "attributes": attributes_to_mesos(c.attributes),
            "version": berth.__version__,
            "capabilities": ["MULTI_ROLE", "TASK_KILLING_STATE"],
        }

    def connect_frame(self) -> JSON:
        """REGISTER for a new agent, REREGISTER (with its tasks) for one with an id."""
        if self.agent_id is None:
            return {"type": proto.REGISTER, "agent": self.agent_info()}
        tasks = []
        for (fw_id, _), runner in self.runners.items():
            tasks.append(
                {
                    "framework_id": fw_id,
                    "task": runner.task,
                    "state": runner.state.value,
                    "status": runner.latest_status,
                }
            )
        return {
            "type": proto.REREGISTER,
            "agent_id": self.agent_id,
            "agent": self.agent_info(),
            "tasks": tasks,
            "frameworks": [{**info, "id": id_of(fid)} for fid, info in self.frameworks.items()],
        }

    def attach(self, send: Callable[[JSON], bool]) -> None:
        """A channel to the master is up (``send``) or down (a sender returning False)."""
        self._send = send

    def registered_as(self, agent_id: str, master: JSON) -> None:
        if self.agent_id != agent_id:
            self.agent_id = agent_id
            self.checkpoint.save_agent_id(agent_id)
        self.master_hostname = str(master.get("hostname", ""))
        self.registered.set()
        self.updates.resend_all()

    def _latest_state(self, framework_id: str, task_id: str) -> str | None:
        runner = self.runners.get((framework_id, task_id))
        return runner.state.value if runner else None

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Own the runners and the update retry loop until cancelled."""
        async with asyncio.TaskGroup() as tg:
            self._group = tg
            for runner in self._recovered:
                tg.create_task(self._run_guarded(runner), name=f"task-{runner.task_id}")
            self._recovered = []
            tg.create_task(self.updates.run(), name="status-updates")
            await asyncio.Event().wait()

    def _context(self) -> TaskContext:
        assert self.agent_id is not None
        return TaskContext(
            agent_id=self.agent_id,
            report=self._report,
            checkpoint=self._checkpoint_runner,
            finished=self._finished,
        )

    def _report(self, framework_id: str, status: JSON) -> None:
        task_id = str(status["task_id"]["value"])
        history = self.histories.setdefault((framework_id, task_id), History())
        entry: JSON = {"state": status["state"], "timestamp": status["timestamp"]}
        if "healthy" in status:
            entry["healthy"] = status["healthy"]
        if "container_status" in status:
            entry["container_status"] = status["container_status"]
        history.statuses.append(entry)
        self.updates.update(framework_id, status)

    def _checkpoint_runner(self, runner: TaskRunner, durable: bool = True) -> None:
        self.checkpoint.save_task(
            runner.framework_id, runner.task_id, runner.record(), durable=durable
        )

    def _finished(self, runner: TaskRunner) -> None:
        # The runner stays listed (so /state and re-registration report its terminal
        # state) until its last update is acknowledged.
        self._maybe_complete(runner.framework_id, runner.task_id)

    def _maybe_complete(self, framework_id: str, task_id: str) -> None:
        key = (framework_id, task_id)
        runner = self.runners.get(key)
        if runner is None or not runner.state.is_terminal:
            return
        if self.updates.pending(framework_id, task_id):
            return
        del self.runners[key]
        history = self.histories.pop(key, History())
        self.completed.append(
            CompletedTask(
                framework_id,
                runner.task,
                runner.state,
                history.statuses,
                str(runner.sandbox),
                runner.container_id,
            )
        )
        self.checkpoint.remove_task(framework_id, task_id)
        if not any(fid == framework_id for fid, _ in self.runners):
            self.frameworks.pop(framework_id, None)

    def run_task(self, framework: JSON, task: JSON) -> None:
        framework_id = id_value(framework.get("id"))
        task_id = id_value(task.get("task_id"))
        if framework_id is None or task_id is None or self.agent_id is None:
            log.warning("ignoring RUN_TASK without framework or task id")
            return
        key = (framework_id, task_id)
        if key in self.runners:
            log.warning("task %s is already running here; ignoring a second launch", task_id)
            return
        if self.frameworks.get(framework_id) != framework:
            self.frameworks[framework_id] = framework
            self.checkpoint.save_framework(framework_id, framework)
        container_id = str(uuid.uuid4())
        sandbox = create_sandbox(
            self.config.work_dir, self.agent_id, framework_id, task_id, container_id
        )
        try:
            containerizer = pick_containerizer(task, self.containerizers)
            spec = launch_spec(
                task,
                framework_id=framework_id,
                agent_id=self.agent_id,
                container_id=container_id,
                sandbox=sandbox,
                agent_hostname=self.config.hostname,
            )
        except InvalidInput as e:
            self._fail_unlaunchable(framework_id, task_id, str(e))
            return
        runner = TaskRunner(
            self._context(),
            framework=framework,
            framework_id=framework_id,
            task=task,
            spec=spec,
            containerizer=containerizer,
            agent_ip=self.config.ip,
        )
        self.runners[key] = runner
        self._checkpoint_runner(runner)
        assert self._group is not None
        self._group.create_task(self._run_guarded(runner), name=f"task-{task_id}")

    async def _run_guarded(self, runner: TaskRunner) -> None:
        """Run one task; whatever goes wrong with it stays with it (never the agent)."""
        try:
            await runner.run()
        except Exception as e:
            log.exception("task %s failed inside the agent", runner.task_id)
            if not runner.state.is_terminal:
                runner.report(
                    TaskState.FAILED,
                    reason=Reason.EXECUTOR_TERMINATED,
                    message=f"The agent could not run the task: {e}",
                )
                self._finished(runner)

    def _fail_unlaunchable(self, framework_id: str, task_id: str, message: str) -> None:
        assert self.agent_id is not None
        status: JSON = {
            "task_id": id_of(task_id),
            "state": TaskState.FAILED.value,
            "source": Source.AGENT.value,
            "reason": Reason.CONTAINER_LAUNCH_FAILED.value,
            "message": message,
            "agent_id": id_of(self.agent_id),
            "timestamp": time.time(),
            "uuid": new_uuid(),
        }
        self.updates.update(framework_id, status)

    def kill_task(self, framework_id: str, task_id: str, kill_policy: object) -> None:
        runner = self.runners.get((framework_id, task_id))
        if runner is None:
            if self.agent_id is not None:
                # Unknown here: tell the framework it is gone (as Mesos's agent does).
                status: JSON = {
                    "task_id": id_of(task_id),
                    "state": TaskState.LOST.value,
                    "source": Source.AGENT.value,
                    "reason": Reason.TASK_UNKNOWN.value,
                    "message": "Task is not known to this agent",
                    "agent_id": id_of(self.agent_id),
                    "timestamp": time.time(),
                    "uuid": new_uuid(),
                }
                self.updates.update(framework_id, status)
            return
        grace: float | None = None
        if isinstance(kill_policy, dict):
            period = kill_policy.get("grace_period")
            if isinstance(period, dict) and isinstance(period.get("nanoseconds"), int | float):
                grace = max(0.0, float(period["nanoseconds"]) / 1e9)
        runner.kill(grace)

    def shutdown_framework(self, framework_id: str) -> None:
        """The framework is gone: kill its tasks and stop delivering its updates."""
        for (fid, task_id), runner in list(self.runners.items()):
            if fid != framework_id:
                continue
            self.updates.forget(fid, task_id)
            runner.kill()

    async def kill_all_tasks(self, timeout: float) -> int:
        """Kill every task and wait until their containers are gone (``berth agent
        --kill-tasks-on-exit``, used by ``berth up``); the number still not gone after
        ``timeout`` seconds, whose containers are then destroyed outright.

        Each task gets its own kill policy (SIGTERM, its grace period, SIGKILL) and
        reports TASK_KILLED as usual. The master hears the latest state of every task at
        once, even where nobody acknowledges the updates before it (``resend_all``).
        Call it while ``run()`` is still running: the runners live in its task group.
        """
        runners = [r for r in self.runners.values() if not r.state.is_terminal]
        if runners:
            log.info("killing %d tasks before exiting", len(runners))
        for runner in runners:
            runner.kill()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(not r.state.is_terminal for r in runners):
            await asyncio.sleep(0.02)
        stuck = [r for r in runners if not r.state.is_terminal]
        for runner in stuck:
            log.warning("task %s did not stop in time; destroying its container", runner.task_id)
            await runner.containerizer.destroy(runner.container_id)
        self.updates.resend_all()
        return len(stuck)

    def unacknowledged(self) -> int:
        """How many tasks have status updates the master has not acknowledged."""
        return sum(1 for fid, tid in self.runners if self.updates.pending(fid, tid))

    def acknowledge(self, framework_id: str, task_id: str, uuid_b64: str) -> None:
        self.updates.acknowledge(framework_id, task_id, uuid_b64)
        self._maybe_complete(framework_id, task_id)

    # ------------------------------------------------------------------ recovery

    async def recover(self) -> None:
        """Find the tasks a previous run of this agent left, before connecting."""
        checkpointed = list(self.checkpoint.tasks())
        alive: dict[str, object] = {}
        for name, containerizer in self.containerizers.items():
            records = []
            for cp in checkpointed:
                launched = launched_from_json(cp.record.get("launched"))
                if launched is None or cp.record.get("containerizer") != name:
                    continue
                records.append(
                    RecoveryRecord(
                        container_id=launched.container_id,
                        task_id=cp.task_id,
                        framework_id=cp.framework_id,
                        launched=launched,
                        runtime_dir=containerizer.runtime_dir(launched.container_id),
                    )
                )
            # Also with no records: recover() destroys containers nobody knows.
            alive.update(await containerizer.recover(records))
        for cp in checkpointed:
            self._recover_task(cp, alive)
        log.info(
            "recovered %d tasks (%d still running)",
            len(self.runners),
            sum(1 for r in self.runners.values() if not r.state.is_terminal),
        )

    def _recover_task(self, cp: CheckpointedTask, alive: Mapping[str, object]) -> None:
        record = cp.record
        framework = record.get("framework")
        task = record.get("task")
        if not isinstance(framework, dict) or not isinstance(task, dict) or self.agent_id is None:
            self.checkpoint.remove_task(cp.framework_id, cp.task_id)
            return
        try:
            state = TaskState(str(record.get("state")))
        except ValueError:
            state = TaskState.STAGING
        self.frameworks[cp.framework_id] = framework
        self.updates.recover(cp.framework_id, cp.task_id, cp.updates)
        launched = launched_from_json(record.get("launched"))
        container_id = str(record.get("container_id"))
        containerizer = self.containerizers.get(str(record.get("containerizer")))
        try:
            if containerizer is None:
                raise InvalidInput(f"containerizer {record.get('containerizer')} is not available")
            spec = launch_spec(
                task,
                framework_id=cp.framework_id,
                agent_id=self.agent_id,
                container_id=container_id,
                sandbox=Path(str(record.get("sandbox"))),
                agent_hostname=self.config.hostname,
            )
        except InvalidInput as e:
            log.warning("cannot recover task %s: %s", cp.task_id, e)
            self.checkpoint.remove_task(cp.framework_id, cp.task_id)
            return
        runner = TaskRunner(
            self._context(),
            framework=framework,
            framework_id=cp.framework_id,
            task=task,
            spec=spec,
            containerizer=containerizer,
            state=state,
            launched=launched,
            agent_ip=self.config.ip,
        )
        runner.latest_status = (
            record.get("latest_status") if isinstance(record.get("latest_status"), dict) else None
        )
        runner.kill_requested = bool(record.get("kill_requested"))
        key = (cp.framework_id, cp.task_id)
        self.runners[key] = runner
        if state.is_terminal:
            self._maybe_complete(cp.framework_id, cp.task_id)
            return
        if launched is not None and launched.container_id in alive:
            self._recovered.append(runner)
            return
        # The container is gone and its end is unknown.
        runner.launched = None
        runner.report(
            TaskState.FAILED,
            reason=Reason.EXECUTOR_TERMINATED,
            message="The task's container was not found when the agent restarted",
        )
