"""The agent's end of the agent channel: dial the master, register, obey, reconnect.

The agent dials out (so it can sit behind NAT) and keeps one WebSocket open. When the
connection drops it reconnects with jittered exponential backoff and re-registers with
the tasks it runs, which is also how a restarted master learns about them.
"""

from __future__ import annotations

import asyncio
import logging
import random

import aiohttp

from berth.agent.agent import Agent
from berth.core import agent_protocol as proto
from berth.core.jsonutil import JSON, dumps, loads

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class ChannelClient:
    def __init__(self, agent: Agent, master: str, *, heartbeat: float = 15.0) -> None:
        self.agent = agent
        self.url = proto.channel_url(master)
        self.heartbeat = heartbeat
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Stay connected to the master until cancelled."""
        backoff = random.uniform(0.0, 0.5)
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(
                        self.url, heartbeat=self.heartbeat, max_msg_size=64 * 1024 * 1024
                    ) as ws:
                        backoff = random.uniform(0.0, 0.5)
                        await self._serve(ws)
                except (aiohttp.ClientError, OSError, TimeoutError) as e:
                    log.info("cannot reach master at %s: %s", self.url, e)
                finally:
                    self.connected.clear()
                    self.agent.attach(lambda _frame: False)
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, max(0.2, backoff * 2))

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        outgoing: asyncio.Queue[bytes] = asyncio.Queue()

        def send(frame: JSON) -> bool:
            if ws.closed:
                return False
            outgoing.put_nowait(dumps(frame))
            return True

        async def writer() -> None:
            while True:
                await ws.send_bytes(await outgoing.get())

        await ws.send_bytes(dumps(self.agent.connect_frame()))
        async with asyncio.TaskGroup() as tg:
            write_task = tg.create_task(writer())
            try:
                async for message in ws:
                    if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                        break
                    frame = loads(message.data)
                    if isinstance(frame, dict):
                        self._handle(frame, send)
            finally:
                write_task.cancel()
        log.warning("channel to the master closed")

    def _handle(self, frame: JSON, send: object) -> None:
        kind = frame.get("type")
        agent = self.agent
        if kind == proto.REGISTERED:
            agent.attach(send)  # type: ignore[arg-type]
            agent.registered_as(str(frame["agent_id"]), frame.get("master") or {})
            self.connected.set()
            log.info("registered with the master as %s", agent.agent_id)
        elif kind == proto.RUN_TASK:
            agent.run_task(frame["framework"], frame["task"])
        elif kind == proto.KILL_TASK:
            agent.kill_task(
                str(frame["framework_id"]), str(frame["task_id"]), frame.get("kill_policy")
            )
        elif kind == proto.ACKNOWLEDGE:
            agent.acknowledge(str(frame["framework_id"]), str(frame["task_id"]), str(frame["uuid"]))
        elif kind == proto.SHUTDOWN_FRAMEWORK:
            agent.shutdown_framework(str(frame["framework_id"]))
        elif kind == proto.ERROR:
            log.error("the master refused this agent: %s", frame.get("message"))
        else:
            log.warning("ignoring unknown frame from the master: %s", kind)
