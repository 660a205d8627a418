"""Forwarding one ASGI request to an upstream over a shared aiohttp session.

Bodies stream both ways: the request body is read from the client as the upstream
consumes it (small bodies of known length are read at once, which is cheaper), and the
response is passed on chunk by chunk as it arrives, so Mesos's RecordIO event stream and
Marathon's server-sent events reach the client unbuffered. While a response streams, the
client connection is watched: when the client goes away, the upstream request is closed
too (an idle event stream would otherwise be held open forever).

Failures before the response starts become ``502``/``504`` with a JSON body naming the
upstream (``{"message": "marathon at 127.0.0.1:8080 is not answering", ...}``); after it
has started, the response simply ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from berth.core.jsonutil import dumps
from berth.gateway.headers import request_headers, response_headers

log = logging.getLogger(__name__)

# Bodies up to these sizes are read whole instead of streamed: one write is cheaper than
# a loop of them, and a small body arrives at once anyway.
_SMALL_REQUEST = 1024 * 1024
_SMALL_RESPONSE = 256 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Upstream:
    """A named ``host:port`` (names appear in error messages: ``marathon``, ``agent S0``)."""

    name: str
    address: str


async def send_json(send: Send, status: int, body: object) -> None:
    data = dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def send_unavailable(send: Send, upstream: Upstream, why: str, status: int = 502) -> None:
    """The answer when an upstream cannot be reached."""
    await send_json(
        send,
        status,
        {
            "message": f"{upstream.name} at {upstream.address} {why}",
            "upstream": upstream.name,
            "address": upstream.address,
        },
    )


class _Body:
    """The client's request body, handed to the upstream as it arrives."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False
        self.disconnected = False

    async def read_all(self) -> bytes:
        parts = [chunk async for chunk in self.stream()]
        return b"".join(parts)

    async def stream(self) -> AsyncIterator[bytes]:
        while not self.done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.done = self.disconnected = True
                raise _ClientGone
            chunk = message.get("body", b"")
            self.done = not message.get("more_body", False)
            if chunk:
                yield chunk


class _ClientGone(Exception):
    """The client disconnected before its request was sent upstream."""


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def _content_length(raw: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in raw:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _has_body(raw: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in raw)


class Forwarder:
    """Sends requests to upstreams through one pooled client session."""

    def __init__(self, session: aiohttp.ClientSession, *, header_timeout: float = 60.0) -> None:
        self._session = session
        self._header_timeout = header_timeout

    async def forward(
        self, scope: Scope, receive: Receive, send: Send, upstream: Upstream, path: str, prefix: str
    ) -> int:
        """Forward the request to ``path`` on ``upstream``; answer the client; return the
        status sent (0 when the client went away first)."""
        query: bytes = scope.get("query_string", b"")
        target = f"http://{upstream.address}{path}"
        if query:
            target += "?" + query.decode("latin-1")
        client = scope.get("client")
        headers = request_headers(
            scope["headers"],
            client=client[0] if client else None,
            scheme=scope.get("scheme", "http"),
            prefix=prefix,
        )
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        body = _Body(receive)
        data: bytes | AsyncIterator[bytes] | None = None
        if _has_body(raw_headers):
            length = _content_length(raw_headers)
            if length is not None and length <= _SMALL_REQUEST:
                try:
                    data = await body.read_all()
                except _ClientGone:
                    return 0
            else:
                data = body.stream()
        else:
            body.done = True
        method: str = scope["method"]
        url = URL(target, encoded=True)
        # A pooled connection the upstream has just closed fails at once; a request that
        # can safely be sent twice is sent again on a fresh connection.
        retry = method in _IDEMPOTENT and not isinstance(data, AsyncIterator)
        try:
            async with asyncio.timeout(self._header_timeout):
                while True:
                    try:
                        response = await self._session.request(
                            method, url, headers=headers, data=data, allow_redirects=False
                        )
                        break
                    except aiohttp.ServerDisconnectedError:
                        if not retry:
                            raise
                        retry = False
        except _ClientGone:
            return 0
        except TimeoutError:
            await send_unavailable(
                send, upstream, f"did not answer within {self._header_timeout:g}s", 504
            )
            return 504
        except (aiohttp.ClientError, OSError) as e:
            if body.disconnected:
                return 0
            log.info("%s at %s: %s", upstream.name, upstream.address, e)
            await send_unavailable(send, upstream, "is not answering")
            return 502
        try:
            await self._respond(response, receive, send, upstream, prefix, body.done)
        finally:
            response.close()
        return response.status

    async def _respond(
        self,
        response: aiohttp.ClientResponse,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        prefix: str,
        can_watch: bool,
    ) -> None:
        headers = response_headers(response.raw_headers, upstream=upstream.address, prefix=prefix)
        length = response.content_length
        if length is not None and length <= _SMALL_RESPONSE:
            try:
                payload = await response.read()
            except (aiohttp.ClientError, OSError) as e:
                log.info("%s at %s broke off its answer: %s", upstream.name, upstream.address, e)
                await send_unavailable(send, upstream, "broke off its answer")
                return
            start = {"type": "http.response.start", "status": response.status, "headers": headers}
            await send(start)
            await send({"type": "http.response.body", "body": payload})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if not can_watch:
            # The request body is still being streamed upstream: ``receive`` belongs to it.
            await self._pump(response, send)
            return
        pump = asyncio.ensure_future(self._pump(response, send))
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            for task in (pump, watch):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @staticmethod
    async def _pump(response: aiohttp.ClientResponse, send: Send) -> None:
        try:
            while chunk := await response.content.readany():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, OSError) as e:
            # Too late for an error status: end the response where the upstream did.
            log.info("upstream broke off a streamed answer: %s", e)
        await send({"type": "http.response.body", "body": b""})
