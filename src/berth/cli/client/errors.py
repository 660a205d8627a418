"""What can go wrong in a client command, as one-line messages and exit codes.

Every failure the client expects becomes a `ClientError` with the exit code that says
what kind of failure it was; `berth.cli.client.command.run` prints it and exits. Server
error bodies (Marathon's ``{"message", "details"}``, Mesos's plain text) are turned into
readable messages here, in one place.

| exit | meaning |
|---|---|
| 0 | done |
| 1 | the server refused, or the operation failed (deployment failed, task not found) |
| 2 | usage error (bad arguments, missing or invalid file) |
| 3 | cannot reach the cluster (connection refused, gateway cannot reach a service) |
| 4 | ``--wait`` ended badly: the deployment failed, or ``--timeout`` passed first |
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    TIMED_OUT = 4


class ClientError(Exception):
    """A failure to report as ``error: <message>`` (plus indented details) and exit."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def lines(self) -> list[str]:
        """What the user sees: the message on one line, each detail indented below it.

        >>> ClientError("Object is not valid", details=("/cpus: must be > 0",)).lines()
        ['error: Object is not valid', '  /cpus: must be > 0']
        """
        return [f"error: {_one_line(self.message)}", *(f"  {_one_line(d)}" for d in self.details)]


class UsageProblem(ClientError):
    exit_code = ExitCode.USAGE


class Unreachable(ClientError):
    exit_code = ExitCode.UNREACHABLE


class TimedOut(ClientError):
    exit_code = ExitCode.TIMED_OUT


class DeploymentFailed(ClientError):
    """A deployment followed with ``--wait`` failed (or was stopped)."""

    exit_code = ExitCode.TIMED_OUT


class ServerRefused(ClientError):
    """The server answered with an error status."""

    def __init__(self, status: int, message: str, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, details=details)
        self.status = status


def unreachable(url: str) -> Unreachable:
    """The one line shown when nothing answers at ``url``.

    >>> unreachable("http://127.0.0.1:8000").message
    'cannot reach the cluster at http://127.0.0.1:8000: is it running? start it with `berth up`'
    """
    return Unreachable(
        f"cannot reach the cluster at {url}: is it running? start it with `berth up`"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _detail_lines(details: Any) -> tuple[str, ...]:
    """Marathon's ``details``: a list of ``{"path", "errors": [...]}``, or a plain string."""
    if isinstance(details, str):
        return (details,) if details.strip() else ()
    if not isinstance(details, list):
        return ()
    out: list[str] = []
    for item in details:
        if isinstance(item, dict):
            path = str(item.get("path", "/")) or "/"
            errors = item.get("errors")
            if isinstance(errors, list):
                text = "; ".join(str(e) for e in errors)
            else:
                text = str(errors if errors is not None else item.get("error", ""))
            out.append(f"{path}: {text}" if text else path)
        else:
            out.append(str(item))
    return tuple(out)


def server_error(status: int, reason: str, body: bytes, content_type: str) -> ClientError:
    """Turn an error reply into a `ClientError` carrying the server's own words.

    Marathon's JSON shape keeps its message and lists its details one per line; a 409
    caused by a running deployment says how to override it from the command line.
    Gateways that cannot reach their upstream (502, 503, 504) mean the cluster is not
    reachable, so they exit with `ExitCode.UNREACHABLE`.

    >>> e = server_error(422, "Unprocessable Entity",
    ...     b'{"message":"Object is not valid","details":[{"path":"/cpus","errors":["bad"]}]}',
    ...     "application/json")
    >>> e.lines()
    ['error: Object is not valid', '  /cpus: bad']
    >>> server_error(404, "Not Found", b"Cannot find it.\\n", "text/plain").message
    'Cannot find it.'
    """
    message = ""
    details: tuple[str, ...] = ()
    text = body.decode("utf-8", "replace").strip()
    data: Any = None
    if text and ("json" in content_type or text[:1] in "{["):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            message = data["message"]
            details = _detail_lines(data.get("details"))
        elif isinstance(data.get("errors"), list):
            details = _detail_lines(data["errors"])
            message = "the request was refused"
        if status == 409 and isinstance(data.get("deployments"), list):
            ids = ", ".join(str(d.get("id")) for d in data["deployments"] if isinstance(d, dict))
            message = (
                f"the change is blocked by deployment {ids}: wait for it "
                "(`berth deployment watch`), or retry with --force to replace it"
            )
            details = ()
    elif text and "html" not in content_type and len(text) <= 500:
        message = _one_line(text)
    if not message:
        message = f"HTTP {status} {reason}".strip()
    if status in (502, 503, 504):
        return Unreachable(f"{message} (HTTP {status})", details=details)
    return ServerRefused(status, message, details=details)
