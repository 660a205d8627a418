"""The master's end of the agent channel (see ``core.agent_protocol``).

One WebSocket per agent. A writer task drains a bounded queue of outgoing frames, so the
master never waits on a slow agent; when the queue overflows the connection is closed and
the agent re-registers. Liveness is WebSocket ping/pong, configured on the server.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from berth.core import agent_protocol as proto
from berth.core.errors import InvalidInput
from berth.core.jsonutil import JSON, dumps, id_value, loads
from berth.core.states import TaskState
from berth.master.master import Master
from berth.master.reconciliation import ReportedTask

log = logging.getLogger(__name__)

OUTGOING_QUEUE = 10_000


class WebSocketSink:
    """Non-blocking sender for one agent connection."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(OUTGOING_QUEUE)
        self.closed = False

    def send(self, message: JSON) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(dumps(message))
        except asyncio.QueueFull:
            log.warning("agent is not reading its channel; closing it")
            self.close()
            return False
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.queue.get_nowait()
            self.queue.put_nowait(None)


def _state(value: Any, where: str) -> TaskState:
    try:
        return TaskState(value)
    except ValueError:
        raise InvalidInput(f"{where}: unknown task state {value!r}") from None


def parse_reported_tasks(raw: Any) -> list[ReportedTask]:
    if not isinstance(raw, list):
        raise InvalidInput("'tasks' must be a list")
    reported: list[ReportedTask] = []
    for i, item in enumerate(raw):
        where = f"tasks[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("task"), dict):
            raise InvalidInput(f"{where} must be an object with a 'task'")
        framework_id = item.get("framework_id")
        task_id = id_value(item["task"].get("task_id"))
        if not isinstance(framework_id, str) or task_id is None:
            raise InvalidInput(f"{where} needs 'framework_id' and 'task.task_id'")
        status = item.get("status")
        reported.append(
            ReportedTask(
                framework_id=framework_id,
                task_id=task_id,
                info=item["task"],
                state=_state(item.get("state"), where),
                status=status if isinstance(status, dict) else None,
            )
        )
    return reported


class AgentChannelServer:
    def __init__(self, master: Master) -> None:
        self.master = master
        self.connections = 0

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_websocket_route(proto.PATH, self.serve)
        return router

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        sink = WebSocketSink()
        self.connections += 1
        agent_id: str | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(self._write(ws, sink))
                try:
                    agent_id = await self._read(ws, sink)
                finally:
                    sink.close()
                    await writer
        except* (WebSocketDisconnect, ConnectionError):
            pass
        finally:
            self.connections -= 1
            if agent_id is not None:
                self.master.agent_disconnected(agent_id, sink)

    @staticmethod
    async def _write(ws: WebSocket, sink: WebSocketSink) -> None:
        while True:
            frame = await sink.queue.get()
            if frame is None:
                break
            await ws.send_bytes(frame)
        await ws.close()

    async def _read(self, ws: WebSocket, sink: WebSocketSink) -> str | None:
        """Serve frames until the agent goes; returns the agent id, once known."""
        agent_id: str | None = None
        while not sink.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return agent_id
            data = message.get("bytes") or message.get("text")
            if data is None:
                continue
            try:
                frame = loads(data)
                if not isinstance(frame, dict):
                    raise InvalidInput("frames must be JSON objects")
                agent_id = await self._handle(sink, agent_id, frame)
            except (InvalidInput, ValueError, KeyError, TypeError) as e:
                log.warning("agent %s sent a bad frame: %s", agent_id or "?", e)
                sink.send({"type": proto.ERROR, "message": f"bad frame: {e}"})
                sink.close()
        return agent_id

    async def _handle(self, sink: WebSocketSink, agent_id: str | None, frame: JSON) -> str:
        kind = frame.get("type")
        if kind == proto.REGISTER:
            agent = await self.master.register_agent(sink, _object(frame, "agent"))
            return agent.id
        if kind == proto.REREGISTER:
            claimed = frame.get("agent_id")
            if not isinstance(claimed, str) or not claimed:
                raise InvalidInput("REREGISTER needs 'agent_id'")
            frameworks = frame.get("frameworks", [])
            if not isinstance(frameworks, list):
                raise InvalidInput("'frameworks' must be a list")
            agent = await self.master.reregister_agent(
                sink,
                claimed,
                _object(frame, "agent"),
                parse_reported_tasks(frame.get("tasks", [])),
                [f for f in frameworks if isinstance(f, dict)],
            )
            return agent.id
        if agent_id is None:
            raise InvalidInput(f"{kind} before REGISTER")
        if kind == proto.STATUS_UPDATE:
            status = _object(frame, "status")
            framework_id = frame.get("framework_id")
            if not isinstance(framework_id, str):
                raise InvalidInput("STATUS_UPDATE needs 'framework_id'")
            _state(status.get("state"), "status.state")
            latest = _state(frame.get("latest_state", status.get("state")), "latest_state")
            self.master.status_update(agent_id, framework_id, status, latest)
            return agent_id
        raise InvalidInput(f"unknown frame type {kind!r}")


def _object(frame: JSON, key: str) -> JSON:
    value = frame.get(key)
    if not isinstance(value, dict):
        raise InvalidInput(f"'{key}' must be an object")
    return value
