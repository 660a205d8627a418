"""Typed errors, mapped to HTTP status codes in one place per surface.

A service raises these from anywhere below its HTTP edge; each surface (Mesos scheduler
API, operator API, agent files API, ...) registers one handler that renders them in its
own error shape. Broken invariants are not ``BerthError``s: they are bugs and crash loudly.
"""

from __future__ import annotations


class BerthError(Exception):
    """Base of the errors that describe a problem with a request, not a bug."""

    status: int = 400

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidInput(BerthError):
    """The request is malformed or asks for something impossible (400)."""

    status = 400


class Unauthorized(BerthError):
    status = 401


class Forbidden(BerthError):
    """The caller is known but may not do this now (403)."""

    status = 403


class NotFound(BerthError):
    status = 404


class NotAcceptable(BerthError):
    status = 406


class Conflict(BerthError):
    status = 409


class UnsupportedMediaType(BerthError):
    status = 415


class NotImplementedCall(BerthError):
    status = 501


class Unavailable(BerthError):
    """Not ready or not the leader and no leader known (503)."""

    status = 503
