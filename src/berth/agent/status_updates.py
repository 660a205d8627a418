"""Reliable delivery of status updates from the agent to the framework.

Each task has an ordered stream of updates. Only the head is in flight; it is resent with
exponential backoff until the framework's acknowledgement comes back through the master,
then the next one goes. Streams are checkpointed, so an agent restart resends what was
never acknowledged. Every update carries the task's *latest* state as well, so the master
can release resources as soon as a task ends, even while an older update is still in
flight (reference/mesos.md, section e).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.agent.checkpoint import Checkpoint
from berth.core import agent_protocol as proto
from berth.core.jsonutil import JSON
from berth.core.states import TaskState

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Stream:
    framework_id: str
    task_id: str
    pending: deque[JSON] = field(default_factory=deque)
    next_send: float = 0.0  # monotonic time the head is due; 0 = now
    backoff: float = 0.0


class StatusUpdateManager:
    """Per-task queues of unacknowledged updates.

    ``send`` hands a frame to the channel and says whether it went out; when the channel
    is down the head simply waits for ``resend_all`` after reconnection.
    ``latest_state`` reports a task's current state at send time.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        send: Callable[[JSON], bool],
        latest_state: Callable[[str, str], str | None],
        *,
        initial_backoff: float = 10.0,
        max_backoff: float = 600.0,
    ) -> None:
        self._checkpoint = checkpoint
        self._send = send
        self._latest_state = latest_state
        self._initial = initial_backoff
        self._max = max_backoff
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._wakeup = asyncio.Event()

    def pending(self, framework_id: str, task_id: str) -> int:
        stream = self._streams.get((framework_id, task_id))
        return len(stream.pending) if stream else 0

    def recover(self, framework_id: str, task_id: str, updates: list[JSON]) -> None:
        if updates:
            self._streams[(framework_id, task_id)] = _Stream(framework_id, task_id, deque(updates))

    def update(self, framework_id: str, status: JSON) -> None:
        """Queue ``status`` (which carries a uuid) for reliable delivery."""
        task_id = str(status["task_id"]["value"])
        key = (framework_id, task_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(framework_id, task_id)
        stream.pending.append(status)
        terminal = TaskState(status["state"]).is_terminal
        self._checkpoint.save_updates(framework_id, task_id, list(stream.pending), durable=terminal)
        if len(stream.pending) == 1:
            self._send_head(stream)

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> bool:
        """Drop the head if ``uuid`` names it; True if the stream is now empty."""
        stream = self._streams.get((framework_id, task_id))
        if stream is None:
            return True
        if not stream.pending or stream.pending[0].get("uuid") != uuid:
            log.debug("ignoring acknowledgement %s for %s: not the head", uuid, task_id)
            return False
        stream.pending.popleft()
        # Losing an acknowledgement costs a resend after a crash, nothing more.
        self._checkpoint.save_updates(framework_id, task_id, list(stream.pending), durable=False)
        if not stream.pending:
            del self._streams[(framework_id, task_id)]
            return True
        stream.backoff = 0.0
        self._send_head(stream)
        return False

    def forget(self, framework_id: str, task_id: str) -> None:
        """Stop delivering (the framework is gone)."""
        self._streams.pop((framework_id, task_id), None)

    def resend_all(self) -> None:
        """After (re)connecting to a master: every head goes out again now."""
        for stream in self._streams.values():
            stream.backoff = 0.0
            self._send_head(stream)

    def _send_head(self, stream: _Stream) -> None:
        if not stream.pending:
            return
        head = stream.pending[0]
        latest = self._latest_state(stream.framework_id, stream.task_id) or head["state"]
        self._send(
            {
                "type": proto.STATUS_UPDATE,
                "framework_id": stream.framework_id,
                "status": head,
                "latest_state": latest,
            }
        )
        stream.backoff = min(self._max, stream.backoff * 2 if stream.backoff else self._initial)
        stream.next_send = time.monotonic() + stream.backoff
        self._wakeup.set()

    async def run(self) -> None:
        """Resend unacknowledged heads when their backoff expires (cancel to stop)."""
        while True:
            now = time.monotonic()
            due = [s for s in self._streams.values() if s.pending and s.next_send <= now]
            for stream in due:
                log.info("resending unacknowledged update for task %s", stream.task_id)
                self._send_head(stream)
            upcoming = [s.next_send for s in self._streams.values() if s.pending]
            delay = max(0.05, min(upcoming) - time.monotonic()) if upcoming else 3600.0
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
