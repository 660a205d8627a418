"""What an agent writes down so that a restart finds its tasks again.

Layout under ``<work_dir>/meta``::

    agent.json                                  {"agent_id": ...}
    frameworks/<framework_id>/framework.json    FrameworkInfo
    frameworks/<framework_id>/tasks/<task_id>/task.json      TaskRecord
    frameworks/<framework_id>/tasks/<task_id>/updates.json   unacknowledged updates

Every file is replaced atomically (write to a temporary file, rename), so a crash leaves
either the old or the new version, never half of one. What a restart cannot rebuild is
also fsynced: which containers exist (the task record once launched) and how tasks
ended. Intermediate states (STARTING, RUNNING, health) are not: a restarted agent
reports what its containers are doing now anyway, and that keeps fsyncs off the launch
path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.core.jsonutil import JSON, dumps, loads

log = logging.getLogger(__name__)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically. ``durable`` also survives a machine
    crash (fsync); without it, a process crash still leaves the old or new version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        log.warning("ignoring corrupt checkpoint %s", path)
        return None


@dataclass(frozen=True, slots=True)
class CheckpointedTask:
    framework_id: str
    task_id: str
    record: JSON  # TaskRecord: framework, task, container_id, containerizer, sandbox, ...
    updates: list[JSON]  # pending (unacknowledged) status updates, oldest first


class Checkpoint:
    def __init__(self, work_dir: Path) -> None:
        self.root = work_dir / "meta"

    def agent_id(self) -> str | None:
        data = read_json(self.root / "agent.json")
        if isinstance(data, dict) and isinstance(data.get("agent_id"), str):
            return str(data["agent_id"])
        return None

    def local_id(self) -> str:
        """A stable id of this agent's work dir, made on first use.

        Containers are labelled with it, so a restarted agent finds exactly its own
        containers (several agents may share one Docker Engine) even before the master
        has given it an agent id.
        """
        path = self.root / "local_id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            local = uuid.uuid4().hex[:16]
            write_atomic(path, local.encode())
            return local

    def save_agent_id(self, agent_id: str) -> None:
        write_atomic(self.root / "agent.json", dumps({"agent_id": agent_id}))

    def _framework_dir(self, framework_id: str) -> Path:
        return self.root / "frameworks" / framework_id

    def _task_dir(self, framework_id: str, task_id: str) -> Path:
        return self._framework_dir(framework_id) / "tasks" / task_id

    def save_framework(self, framework_id: str, info: JSON) -> None:
        write_atomic(self._framework_dir(framework_id) / "framework.json", dumps(info))

    def framework(self, framework_id: str) -> JSON | None:
        data = read_json(self._framework_dir(framework_id) / "framework.json")
        return data if isinstance(data, dict) else None

    def save_task(
        self, framework_id: str, task_id: str, record: JSON, *, durable: bool = True
    ) -> None:
        path = self._task_dir(framework_id, task_id) / "task.json"
        write_atomic(path, dumps(record), durable=durable)

    def save_updates(
        self, framework_id: str, task_id: str, updates: list[JSON], *, durable: bool = True
    ) -> None:
        path = self._task_dir(framework_id, task_id) / "updates.json"
        write_atomic(path, dumps(updates), durable=durable)

    def remove_task(self, framework_id: str, task_id: str) -> None:
        shutil.rmtree(self._task_dir(framework_id, task_id), ignore_errors=True)
        tasks_dir = self._framework_dir(framework_id) / "tasks"
        with contextlib.suppress(OSError):
            if not any(tasks_dir.iterdir()):
                shutil.rmtree(self._framework_dir(framework_id), ignore_errors=True)

    def tasks(self) -> Iterator[CheckpointedTask]:
        frameworks = self.root / "frameworks"
        if not frameworks.is_dir():
            return
        for fw_dir in sorted(frameworks.iterdir()):
            tasks_dir = fw_dir / "tasks"
            if not tasks_dir.is_dir():
                continue
            for task_dir in sorted(tasks_dir.iterdir()):
                record = read_json(task_dir / "task.json")
                if not isinstance(record, dict):
                    continue
                updates = read_json(task_dir / "updates.json")
                yield CheckpointedTask(
                    fw_dir.name,
                    task_dir.name,
                    record,
                    [u for u in updates if isinstance(u, dict)]
                    if isinstance(updates, list)
                    else [],
                )
