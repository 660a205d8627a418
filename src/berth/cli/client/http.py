"""A small synchronous HTTP client for the CLI, on the standard library's ``http.client``.

Why not aiohttp, which the services use: a CLI command makes a handful of sequential
requests and exits, so an event loop buys nothing, and importing aiohttp costs about a
quarter of a second of startup on every command. ``http.client`` (not ``urllib``) because
it never consults proxy environment variables, which would send ``127.0.0.1`` requests
to a corporate proxy, and because its responses can be read line by line as they arrive,
which is all the event stream (SSE) and log following need.

Every failure leaves here as a `ClientError`: nothing answering is `Unreachable` (exit 3),
an error status is the server's own message (`server_error`, exit 1).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from berth.cli.client.errors import ClientError, Unreachable, server_error, unreachable

DEFAULT_TIMEOUT = 30.0

Query = Mapping[str, str | int | float | bool | list[str]]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise ClientError(
                f"the server answered HTTP {self.status} with a body that is not JSON"
            ) from None


def build_url(base: str, path: str, query: Query | None = None) -> str:
    """``base`` + ``path`` (its segments percent-encoded as needed) + the query string.

    Booleans become ``true``/``false``; lists repeat the key.

    >>> build_url("http://m:8080", "/v2/apps/a b", {"force": True, "embed": ["x", "y"]})
    'http://m:8080/v2/apps/a%20b?force=true&embed=x&embed=y'
    """
    pairs: list[tuple[str, str]] = []
    for key, value in (query or {}).items():
        if isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        elif isinstance(value, list):
            pairs.extend((key, v) for v in value)
        else:
            pairs.append((key, str(value)))
    url = base.rstrip("/") + quote(path, safe="/:@!$&'()*+,;=-._~")
    return f"{url}?{urlencode(pairs)}" if pairs else url


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    return conn, target


class Http:
    """Requests with one default timeout (seconds)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    @staticmethod
    def _unreachable(url: str) -> Unreachable:
        # Name the address that did not answer (the gateway, or marathon or the master
        # when they are given directly), without the path.
        parts = urlsplit(url)
        return unreachable(f"{parts.scheme}://{parts.netloc}")

    def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> Reply:
        """One request; ``body`` is sent as JSON unless it is ``None``.

        With ``check`` an error status raises the server's message as a `ClientError`.
        """
        conn, target = _connection(url, timeout or self.timeout)
        sent_headers = {"Accept": "application/json", **(headers or {})}
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        try:
            conn.request(method, target, body=data, headers=sent_headers)
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError:
            raise ClientError(
                f"{method} {url} got no answer within {timeout or self.timeout:.0f}s"
            ) from None
        except (OSError, http.client.HTTPException):
            raise self._unreachable(url) from None
        finally:
            conn.close()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
        if check and reply.status >= 400:
            raise server_error(
                reply.status,
                response.reason,
                payload,
                reply.headers.get("content-type", ""),
            )
        return reply

    def json(self, method: str, url: str, body: Any = None, *, timeout: float | None = None) -> Any:
        return self.request(method, url, body, timeout=timeout).json()

    def lines(self, url: str, headers: Mapping[str, str]) -> Iterator[bytes]:
        """The response body line by line as it arrives (for streams that never end).

        The connection is opened (and errors raised) on the first ``next``; closing the
        generator closes the connection.
        """
        conn, target = _connection(url, self.timeout)
        try:
            try:
                conn.request("GET", target, headers=dict(headers))
                response = conn.getresponse()
            except (OSError, http.client.HTTPException):
                raise self._unreachable(url) from None
            if response.status >= 400:
                raise server_error(
                    response.status,
                    response.reason,
                    response.read(),
                    response.getheader("content-type") or "",
                )
            # Heartbeats arrive every 10 s; beyond that the stream is not coming back.
            if conn.sock is not None:
                conn.sock.settimeout(None)
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException):
                    return
                if not line:
                    return
                yield line
        finally:
            conn.close()
