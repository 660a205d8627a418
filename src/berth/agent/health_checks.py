"""Mesos health checks, run by the agent next to the task they watch.

Three layers, decision apart from effect:

* ``parse_health_check``: Mesos ``HealthCheck`` JSON -> ``HealthCheckSpec`` (pure,
  InvalidInput with a JSON path on bad input).
* ``observe``: the pure state machine. Given the state and one probe result it says what
  to do: report a health flip, kill the task, or nothing.
* ``HealthChecker.run``: probes on a schedule (HTTP/HTTPS with aiohttp, TCP connect, or
  a command through a runner the agent supplies) and carries the decisions out through
  two callbacks. ``run_shell_command`` is the command runner for process tasks.

Mesos semantics, which ``observe`` implements::

    start --delay--> probe --interval--> probe --interval--> ...
    failure while no probe has succeeded yet and now - start <= grace: ignored
    first success: reported healthy, grace over for good
    any other failure: counted; the first one of a run is reported unhealthy
    consecutive_failures counted failures in a row (at least one): kill

Glossary: *counted* failure = a failure not ignored by the grace period; *flip* = the
reported health changes (None -> True/False, True -> False, False -> True).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp

from berth.core.commands import run_to_exit
from berth.core.errors import InvalidInput

# --------------------------------------------------------------------------------------
# Spec


class CheckType(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"  # Mesos spells this type HTTP with http.scheme "https"
    TCP = "TCP"
    COMMAND = "COMMAND"


@dataclass(frozen=True, slots=True)
class CommandCheck:
    """A Mesos ``CommandInfo`` reduced to what a check runs.

    ``shell`` true: ``/bin/sh -c value``. ``shell`` false: run the program ``value`` with
    argv ``arguments`` (argv[0] included; empty means ``[value]``).
    """

    value: str
    shell: bool = True
    arguments: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    user: str | None = None

    @property
    def argv(self) -> list[str]:
        """The argv to execute, e.g. for ``docker exec``.

        >>> CommandCheck("curl -f localhost").argv
        ['/bin/sh', '-c', 'curl -f localhost']
        """
        if self.shell:
            return ["/bin/sh", "-c", self.value]
        return list(self.arguments) or [self.value]

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "shell": self.shell}
        if self.arguments:
            out["arguments"] = list(self.arguments)
        if self.environment:
            out["environment"] = {
                "variables": [{"name": k, "value": v} for k, v in self.environment]
            }
        if self.user is not None:
            out["user"] = self.user
        return out


@dataclass(frozen=True, slots=True)
class HealthCheckSpec:
    """One Mesos health check, validated. Times are float seconds (sub-second allowed).

    ``port`` is set for HTTP/HTTPS/TCP (the port as the task sees it: the agent's
    ``Target`` translates it), ``command`` for COMMAND. An empty ``statuses`` means
    "200-399 is healthy".
    """

    type: CheckType
    port: int | None = None
    path: str = "/"
    statuses: frozenset[int] = frozenset()
    command: CommandCheck | None = None
    delay_seconds: float = 15.0
    interval_seconds: float = 10.0
    timeout_seconds: float = 20.0
    consecutive_failures: int = 3
    grace_period_seconds: float = 10.0

    @property
    def scheme(self) -> str:
        return "https" if self.type is CheckType.HTTPS else "http"

    def to_json(self) -> dict[str, Any]:
        """Mesos ``HealthCheck`` JSON; ``parse_health_check`` gives this spec back."""
        out: dict[str, Any] = {
            "delay_seconds": self.delay_seconds,
            "interval_seconds": self.interval_seconds,
            "timeout_seconds": self.timeout_seconds,
            "consecutive_failures": self.consecutive_failures,
            "grace_period_seconds": self.grace_period_seconds,
        }
        if self.type in (CheckType.HTTP, CheckType.HTTPS):
            http: dict[str, Any] = {"port": self.port, "path": self.path, "scheme": self.scheme}
            if self.statuses:
                http["statuses"] = sorted(self.statuses)
            out.update(type="HTTP", http=http)
        elif self.type is CheckType.TCP:
            out.update(type="TCP", tcp={"port": self.port})
        else:
            assert self.command is not None
            out.update(type="COMMAND", command=self.command.to_json())
        return out


_TYPES = ", ".join(t.value for t in CheckType)
_BLOCKS = {"http": CheckType.HTTP, "tcp": CheckType.TCP, "command": CheckType.COMMAND}


def parse_health_check(obj: object, path: str = "health_check") -> HealthCheckSpec:
    """Parse Mesos ``HealthCheck`` JSON, applying Mesos defaults.

    Lenient where Mesos's JSON is (numbers as strings, unknown keys ignored, a missing
    ``type`` inferred when exactly one of ``http``/``tcp``/``command`` is present);
    stricter in one place: ``interval_seconds`` and ``timeout_seconds`` must be > 0,
    since 0 would make a busy loop or a check that can never pass.

    >>> parse_health_check({"type": "TCP", "tcp": {"port": 8080}}).port
    8080
    >>> parse_health_check({"type": "TCP", "tcp": {}})
    Traceback (most recent call last):
    ...
    berth.core.errors.InvalidInput: health_check.tcp.port: is required
    """
    hc = _object(obj, path)
    check_type = _check_type(hc, path)
    spec = HealthCheckSpec(
        type=check_type,
        delay_seconds=_seconds(hc, "delay_seconds", path, 15.0, positive=False),
        interval_seconds=_seconds(hc, "interval_seconds", path, 10.0, positive=True),
        timeout_seconds=_seconds(hc, "timeout_seconds", path, 20.0, positive=True),
        consecutive_failures=_count(hc, "consecutive_failures", path, 3),
        grace_period_seconds=_seconds(hc, "grace_period_seconds", path, 10.0, positive=False),
    )
    if check_type in (CheckType.HTTP, CheckType.HTTPS):
        http = _object(_required(hc, "http", path), f"{path}.http")
        scheme_default = "https" if check_type is CheckType.HTTPS else "http"
        scheme = _string(http, "scheme", f"{path}.http", scheme_default)
        if scheme not in ("http", "https"):
            raise InvalidInput(
                f"unsupported scheme {scheme!r}; expected 'http' or 'https'",
                path=f"{path}.http.scheme",
            )
        if check_type is CheckType.HTTPS and scheme == "http":
            raise InvalidInput("'http' contradicts type HTTPS", path=f"{path}.http.scheme")
        url_path = _string(http, "path", f"{path}.http", "/")
        if not url_path.startswith("/"):
            raise InvalidInput(f"{url_path!r} must start with '/'", path=f"{path}.http.path")
        return replace(
            spec,
            type=CheckType.HTTPS if scheme == "https" else CheckType.HTTP,
            port=_port(http, f"{path}.http"),
            path=url_path,
            statuses=_statuses(http, f"{path}.http"),
        )
    if check_type is CheckType.TCP:
        tcp = _object(_required(hc, "tcp", path), f"{path}.tcp")
        return replace(spec, port=_port(tcp, f"{path}.tcp"))
    command = parse_command_info(_required(hc, "command", path), f"{path}.command")
    return replace(spec, command=command)


def parse_command_info(obj: object, path: str = "command") -> CommandCheck:
    """Parse a Mesos ``CommandInfo`` for running as a check (``uris`` are ignored).

    >>> parse_command_info({"shell": False, "value": "/bin/true", "arguments": ["true"]}).argv
    ['true']
    """
    info = _object(obj, path)
    shell = info.get("shell", True)
    if shell is None:
        shell = True
    if not isinstance(shell, bool):
        raise InvalidInput("must be a boolean", path=f"{path}.shell")
    value = _string(info, "value", path, "")
    if not value:
        raise InvalidInput("is required", path=f"{path}.value")
    arguments = info.get("arguments") or []
    if not isinstance(arguments, list) or not all(isinstance(a, str) for a in arguments):
        raise InvalidInput("must be a list of strings", path=f"{path}.arguments")
    user = info.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidInput("must be a string", path=f"{path}.user")
    return CommandCheck(
        value=value,
        shell=shell,
        arguments=tuple(arguments),
        environment=_environment(info.get("environment"), f"{path}.environment"),
        user=user,
    )


def _check_type(hc: Mapping[str, Any], path: str) -> CheckType:
    raw = hc.get("type")
    if raw is None:
        present = [t for key, t in _BLOCKS.items() if hc.get(key) is not None]
        if len(present) == 1:
            return present[0]
        raise InvalidInput(f"is required; expected one of {_TYPES}", path=f"{path}.type")
    if not isinstance(raw, str) or raw not in CheckType.__members__:
        raise InvalidInput(f"unknown type {raw!r}; expected one of {_TYPES}", path=f"{path}.type")
    return CheckType(raw)


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("must be an object", path=path)
    return value


def _required(obj: Mapping[str, Any], key: str, path: str) -> object:
    value = obj.get(key)
    if value is None:
        raise InvalidInput("is required", path=f"{path}.{key}")
    return value


def _string(obj: Mapping[str, Any], key: str, path: str, default: str) -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput("must be a string", path=f"{path}.{key}")
    return value


def _number(value: object, path: str) -> float:
    # Mesos's JSON parser takes numbers given as strings; never booleans.
    if isinstance(value, bool):
        raise InvalidInput("must be a number", path=path)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise InvalidInput(f"{value[:32]!r} is not a number", path=path) from None
    else:
        raise InvalidInput("must be a number", path=path)
    if not math.isfinite(number):
        raise InvalidInput("must be finite", path=path)
    return number


def _seconds(
    obj: Mapping[str, Any], key: str, path: str, default: float, *, positive: bool
) -> float:
    value = obj.get(key)
    if value is None:
        return default
    number = _number(value, f"{path}.{key}")
    if positive and number <= 0:
        raise InvalidInput(f"must be positive, got {number:g}", path=f"{path}.{key}")
    if number < 0:
        raise InvalidInput(f"must not be negative, got {number:g}", path=f"{path}.{key}")
    return number


def _integer(value: object, path: str) -> int:
    number = _number(value, path)
    if not number.is_integer():
        raise InvalidInput(f"must be an integer, got {number:g}", path=path)
    return int(number)


def _count(obj: Mapping[str, Any], key: str, path: str, default: int) -> int:
    value = obj.get(key)
    if value is None:
        return default
    number = _integer(value, f"{path}.{key}")
    if number < 0:
        raise InvalidInput(f"must not be negative, got {number}", path=f"{path}.{key}")
    return number


def _port(obj: Mapping[str, Any], path: str) -> int:
    port = _integer(_required(obj, "port", path), f"{path}.port")
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port {port} is out of range 1-65535", path=f"{path}.port")
    return port


def _statuses(http: Mapping[str, Any], path: str) -> frozenset[int]:
    raw = http.get("statuses")
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise InvalidInput("must be a list of HTTP status codes", path=f"{path}.statuses")
    statuses = set()
    for i, item in enumerate(raw):
        code = _integer(item, f"{path}.statuses[{i}]")
        if not 100 <= code <= 599:
            raise InvalidInput(f"{code} is not an HTTP status", path=f"{path}.statuses[{i}]")
        statuses.add(code)
    return frozenset(statuses)


def _environment(obj: object, path: str) -> tuple[tuple[str, str], ...]:
    if obj is None:
        return ()
    variables = _object(obj, path).get("variables") or []
    if not isinstance(variables, list):
        raise InvalidInput("must be a list", path=f"{path}.variables")
    out = []
    for i, var in enumerate(variables):
        at = f"{path}.variables[{i}]"
        item = _object(var, at)
        if item.get("type", "VALUE") != "VALUE":
            raise InvalidInput("only VALUE variables are supported in checks", path=f"{at}.type")
        name = _string(item, "name", at, "")
        if not name:
            raise InvalidInput("is required", path=f"{at}.name")
        out.append((name, _string(item, "value", at, "")))
    return tuple(out)


# --------------------------------------------------------------------------------------
# Decision: the pure state machine


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after one probe. ``report`` is the new health to announce (a flip),
    None when nothing changed; ``kill`` asks for the task to be killed with ``message``."""

    report: bool | None = None
    kill: bool = False
    message: str = ""


NOTHING = Decision()


@dataclass(frozen=True, slots=True)
class HealthState:
    """Everything ``observe`` needs; build the first one with ``HealthState.initial``.

    ``max_failures`` is the kill threshold, at least 1 (Mesos kills at the first counted
    failure when ``consecutive_failures`` is 0).
    """

    started_at: float
    grace_seconds: float
    max_failures: int
    healthy: bool | None = None
    consecutive_failures: int = 0
    succeeded: bool = False
    killed: bool = False

    @classmethod
    def initial(cls, spec: HealthCheckSpec, started_at: float) -> HealthState:
        return cls(
            started_at=started_at,
            grace_seconds=spec.grace_period_seconds,
            max_failures=max(1, spec.consecutive_failures),
        )

    def in_grace(self, now: float) -> bool:
        """Failures are ignored now: no success yet and still within the grace period."""
        return (
            not self.succeeded
            and self.grace_seconds > 0
            and now - self.started_at <= self.grace_seconds
        )


def observe(
    state: HealthState, result: ProbeResult | bool, now: float
) -> tuple[HealthState, Decision]:
    """Fold one probe result into the state; say what to report or whether to kill.

    >>> s = HealthState(started_at=0.0, grace_seconds=10.0, max_failures=2)
    >>> s, d = observe(s, False, now=5.0); d          # in grace: ignored
    Decision(report=None, kill=False, message='')
    >>> s, d = observe(s, True, now=6.0); d.report    # first success: healthy
    True
    >>> s, d = observe(s, False, now=7.0); d.report   # grace ended with the success
    False
    >>> s, d = observe(s, False, now=8.0); d.kill     # second in a row: kill
    True
    """
    if isinstance(result, bool):
        result = ProbeResult(result)
    # Rules in order; the first that matches decides.
    # 1. After a kill the check is over: the task is going away.
    if state.killed:
        return state, NOTHING
    # 2. A success resets the count and ends the grace period for good.
    if result.ok:
        new = replace(state, healthy=True, consecutive_failures=0, succeeded=True)
        return new, (NOTHING if state.healthy is True else Decision(report=True))
    # 3. A task still starting up is allowed to fail: not counted, not reported.
    if state.in_grace(now):
        return state, NOTHING
    # 4. A counted failure: report the flip to unhealthy; kill at the threshold.
    failures = state.consecutive_failures + 1
    kill = failures >= state.max_failures
    new = replace(state, healthy=False, consecutive_failures=failures, killed=kill)
    report = None if state.healthy is False else False
    if not kill:
        return new, Decision(report=report, message=result.message)
    message = f"Task failed {failures} consecutive health checks"
    if result.message:
        message += f"; last: {result.message}"
    return new, Decision(report=report, kill=True, message=message)


# --------------------------------------------------------------------------------------
# Effect: the runner

RunCommand = Callable[[Mapping[str, Any], float], Awaitable[int]]
"""Runs a COMMAND check where the task lives and returns its exit status (0 = healthy).
Called with the check's normalised ``CommandInfo`` JSON (``value``, ``shell``, and
``arguments``/``environment``/``user`` when set; ``parse_command_info(...).argv`` gives
the argv) and the timeout in seconds; may raise TimeoutError."""


def _same_port(port: int) -> int:
    return port


@dataclass(frozen=True, slots=True)
class Target:
    """How to reach the task, as the agent knows it.

    ``host``: 127.0.0.1 for host networking, the container's IP for bridge networking.
    ``port``: maps the check's port to the one to dial (identity by default).
    ``address``: when set, replaces both: check port -> ``(host, port)`` to dial, for
    when the host depends on the port (a bridged container's port vs a host port).
    ``run_command``: required for COMMAND checks (``docker exec`` for containers,
    ``run_shell_command`` in the sandbox for process tasks, see ``command_runner``).
    """

    host: str = "127.0.0.1"
    port: Callable[[int], int] = _same_port
    address: Callable[[int], tuple[str, int]] | None = None
    run_command: RunCommand | None = None

    def resolve(self, port: int) -> tuple[str, int]:
        """Where to dial for the check's ``port``.

        >>> Target(host="172.17.0.2").resolve(8080)
        ('172.17.0.2', 8080)
        """
        if self.address is not None:
            return self.address(port)
        return self.host, self.port(port)


HealthCallback = Callable[[bool], Awaitable[None] | None]
KillCallback = Callable[[str], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class CheckerStatistics:
    """A snapshot of a running checker, for status endpoints and tests."""

    probes: int
    last_result: ProbeResult | None
    state: HealthState | None


class HealthChecker:
    """Runs one task's health check until it decides to kill (or is cancelled).

    ``on_health_change(healthy)`` is called on every flip; ``on_kill(message)`` once,
    after which ``run`` returns. Callbacks may be plain functions or coroutines; an
    exception from one propagates out of ``run`` (a broken agent, not a failed check).

    ``clock``/``sleep`` drive the schedule and the grace period and can be replaced in
    tests; each probe is bounded by ``timeout_seconds`` of real loop time. The grace
    period counts from ``started_at`` (default: when ``run`` starts), which should be
    when the task was launched. The schedule is Mesos's: the first probe after
    ``delay_seconds``, then ``interval_seconds`` after each probe ends.
    """

    def __init__(
        self,
        spec: HealthCheckSpec,
        target: Target,
        *,
        on_health_change: HealthCallback,
        on_kill: KillCallback,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        started_at: float | None = None,
    ) -> None:
        if spec.type is CheckType.COMMAND and target.run_command is None:
            raise ValueError("a COMMAND health check needs Target.run_command")
        self.spec = spec
        self.target = target
        self._on_health_change = on_health_change
        self._on_kill = on_kill
        self._now = clock
        self._sleep = sleep
        self._started_at = started_at
        self._state: HealthState | None = None
        self._probes = 0
        self._last_result: ProbeResult | None = None

    def statistics(self) -> CheckerStatistics:
        return CheckerStatistics(self._probes, self._last_result, self._state)

    @property
    def state(self) -> HealthState | None:
        """The latest state (None before ``run`` starts)."""
        return self._state

    async def run(self) -> None:
        started = self._now() if self._started_at is None else self._started_at
        self._state = HealthState.initial(self.spec, started)
        async with self._http_session() as session:
            await self._sleep(self.spec.delay_seconds)
            while True:
                result = await self._probe(session)
                self._probes += 1
                self._last_result = result
                self._state, decision = observe(self._state, result, self._now())
                if decision.report is not None:
                    await _call(self._on_health_change, decision.report)
                if decision.kill:
                    await _call(self._on_kill, decision.message)
                    return
                await self._sleep(self.spec.interval_seconds)

    async def probe(self) -> ProbeResult:
        """Run the check once, bounded by ``timeout_seconds``; no state changes."""
        async with self._http_session() as session:
            return await self._probe(session)

    @contextlib.asynccontextmanager
    async def _http_session(self) -> AsyncIterator[aiohttp.ClientSession | None]:
        if self.spec.type not in (CheckType.HTTP, CheckType.HTTPS):
            yield None
            return
        # A fresh connection per probe (like Mesos's curl): a pooled keep-alive
        # connection could hide a listener that no longer accepts. ssl=False: HTTPS
        # checks do not verify certificates (tasks use self-signed ones).
        connector = aiohttp.TCPConnector(force_close=True, ssl=False)
        async with aiohttp.ClientSession(
            connector=connector, trust_env=False, timeout=aiohttp.ClientTimeout(total=None)
        ) as session:
            yield session

    async def _probe(self, session: aiohttp.ClientSession | None) -> ProbeResult:
        spec = self.spec
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                if spec.type is CheckType.TCP:
                    return await self._probe_tcp()
                if spec.type is CheckType.COMMAND:
                    return await self._probe_command()
                assert session is not None
                return await self._probe_http(session)
        except TimeoutError:
            return ProbeResult(False, f"timed out after {spec.timeout_seconds:g}s")

    def _address(self) -> tuple[str, int]:
        assert self.spec.port is not None
        return self.target.resolve(self.spec.port)

    async def _probe_tcp(self) -> ProbeResult:
        host, port = self._address()
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            return ProbeResult(False, f"connect to {host}:{port} failed: {e}")
        writer.close()
        # The peer may hang up first; the connect is what counted.
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return ProbeResult(True)

    async def _probe_http(self, session: aiohttp.ClientSession) -> ProbeResult:
        host, port = self._address()
        url = f"{self.spec.scheme}://{_url_host(host)}:{port}{self.spec.path}"
        try:
            # No redirects: a 3xx is an answer (healthy by default), as with curl.
            async with session.get(url, allow_redirects=False) as response:
                status = response.status
        except (aiohttp.ClientError, OSError, ValueError) as e:
            return ProbeResult(False, f"GET {url} failed: {str(e) or type(e).__name__}")
        statuses = self.spec.statuses
        ok = status in statuses if statuses else 200 <= status < 400
        return ProbeResult(ok, "" if ok else f"GET {url} returned {status}")

    async def _probe_command(self) -> ProbeResult:
        assert self.spec.command is not None
        assert self.target.run_command is not None
        try:
            command = self.spec.command.to_json()
            code = await self.target.run_command(command, self.spec.timeout_seconds)
        except TimeoutError:
            raise
        except Exception as e:  # e.g. the container is gone: the check failed
            return ProbeResult(False, f"command could not run: {str(e) or type(e).__name__}")
        return ProbeResult(code == 0, "" if code == 0 else f"command exited with {code}")


async def _call(callback: Callable[[Any], Awaitable[None] | None], value: Any) -> None:
    result = callback(value)
    if inspect.isawaitable(result):
        await result


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host  # a name


# --------------------------------------------------------------------------------------
# Default COMMAND runner for process tasks


async def run_shell_command(
    command: Mapping[str, Any] | CommandCheck,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
) -> int:
    """Run a check command in ``cwd``; return its exit status (negative: killed by signal).

    ``command`` is Mesos ``CommandInfo`` JSON (or an already parsed ``CommandCheck``):
    ``shell`` true runs ``/bin/sh -c value``; false runs program ``value`` with argv
    ``arguments``. The command's own ``environment`` is laid over ``env``. It runs in a
    new session; on timeout (TimeoutError) or cancellation the whole process group is
    killed, so a hung check cannot leave children behind. ``user`` is not applied.

    >>> await run_shell_command({"value": "exit 3"}, cwd=Path("/"), env={}, timeout=5)
    ... # doctest: +SKIP
    3
    """
    check = command if isinstance(command, CommandCheck) else parse_command_info(command)
    argv = check.argv
    # With shell false, ``value`` is the program and argv[0] may differ from it.
    executable = None if check.shell else check.value
    return await run_to_exit(
        argv, executable=executable, cwd=cwd, env={**env, **check.env}, timeout=timeout
    )


def command_runner(*, cwd: Path, env: Mapping[str, str]) -> RunCommand:
    """A ``Target.run_command`` for a process task running in ``cwd`` with ``env``."""

    async def run(command: Mapping[str, Any], timeout: float) -> int:
        return await run_shell_command(command, cwd=cwd, env=env, timeout=timeout)

    return run
