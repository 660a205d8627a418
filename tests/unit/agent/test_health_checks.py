"""Health checks: parsing, the pure state machine (with properties), and the runner
against real HTTP/HTTPS servers, TCP listeners and processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from berth.agent.health_checks import (
    NOTHING,
    CheckType,
    CommandCheck,
    Decision,
    HealthChecker,
    HealthCheckSpec,
    HealthState,
    ProbeResult,
    RunCommand,
    Target,
    command_runner,
    observe,
    parse_command_info,
    parse_health_check,
    run_shell_command,
)
from berth.core.errors import InvalidInput
from tests.leftovers import alive, processes_mentioning

# --------------------------------------------------------------------------------------
# Parsing


def test_defaults_are_mesos_defaults() -> None:
    spec = parse_health_check({"type": "HTTP", "http": {"port": 8080}})
    assert spec == HealthCheckSpec(type=CheckType.HTTP, port=8080)
    assert (spec.delay_seconds, spec.interval_seconds, spec.timeout_seconds) == (15, 10, 20)
    assert (spec.consecutive_failures, spec.grace_period_seconds) == (3, 10)
    assert spec.path == "/"
    assert spec.scheme == "http"
    assert spec.statuses == frozenset()


def test_the_taskinfo_example_parses() -> None:
    spec = parse_health_check(
        {
            "type": "HTTP",
            "http": {"port": 8000, "path": "/health", "scheme": "http", "statuses": [200, 204]},
            "delay_seconds": 15,
            "interval_seconds": 0.5,
            "timeout_seconds": "20",  # Mesos JSON accepts numbers as strings
            "consecutive_failures": 3,
            "grace_period_seconds": 10,
            "unknown_key": "ignored",
        }
    )
    assert spec.path == "/health"
    assert spec.statuses == {200, 204}
    assert spec.interval_seconds == 0.5
    assert spec.timeout_seconds == 20.0


def test_https_is_http_with_the_https_scheme() -> None:
    a = parse_health_check({"type": "HTTPS", "http": {"port": 443}})
    b = parse_health_check({"type": "HTTP", "http": {"port": 443, "scheme": "https"}})
    assert a == b
    assert a.type is CheckType.HTTPS
    assert a.scheme == "https"
    assert a.to_json()["type"] == "HTTP"
    assert a.to_json()["http"]["scheme"] == "https"


def test_command_and_tcp() -> None:
    tcp = parse_health_check({"type": "TCP", "tcp": {"port": "31000"}})
    assert tcp.port == 31000
    cmd = parse_health_check(
        {
            "type": "COMMAND",
            "command": {
                "value": "curl -f localhost",
                "environment": {"variables": [{"name": "A", "value": "1"}]},
            },
        }
    )
    assert cmd.command == CommandCheck("curl -f localhost", environment=(("A", "1"),))
    assert cmd.command.argv == ["/bin/sh", "-c", "curl -f localhost"]
    argv = parse_command_info({"shell": False, "value": "/bin/test", "arguments": ["test", "-e"]})
    assert argv.argv == ["test", "-e"]
    assert parse_command_info({"shell": False, "value": "/bin/true"}).argv == ["/bin/true"]


def test_a_missing_type_is_inferred_only_when_unambiguous() -> None:
    assert parse_health_check({"tcp": {"port": 1}}).type is CheckType.TCP
    with pytest.raises(InvalidInput) as e:
        parse_health_check({"tcp": {"port": 1}, "http": {"port": 1}})
    assert e.value.path == "health_check.type"


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ([], "health_check"),
        ({"type": "UNKNOWN", "tcp": {"port": 1}}, "health_check.type"),
        ({"type": "GRPC"}, "health_check.type"),
        ({"type": 3}, "health_check.type"),
        ({}, "health_check.type"),
        ({"type": "HTTP"}, "health_check.http"),
        ({"type": "HTTP", "http": {}}, "health_check.http.port"),
        ({"type": "HTTP", "http": "8080"}, "health_check.http"),
        ({"type": "HTTP", "http": {"port": 0}}, "health_check.http.port"),
        ({"type": "HTTP", "http": {"port": 65536}}, "health_check.http.port"),
        ({"type": "HTTP", "http": {"port": 80.5}}, "health_check.http.port"),
        ({"type": "HTTP", "http": {"port": True}}, "health_check.http.port"),
        ({"type": "HTTP", "http": {"port": "http"}}, "health_check.http.port"),
        ({"type": "HTTP", "http": {"port": 80, "path": "health"}}, "health_check.http.path"),
        ({"type": "HTTP", "http": {"port": 80, "scheme": "ftp"}}, "health_check.http.scheme"),
        ({"type": "HTTPS", "http": {"port": 80, "scheme": "http"}}, "health_check.http.scheme"),
        ({"type": "HTTP", "http": {"port": 80, "statuses": 200}}, "health_check.http.statuses"),
        (
            {"type": "HTTP", "http": {"port": 80, "statuses": [200, 999]}},
            "health_check.http.statuses[1]",
        ),
        ({"type": "TCP", "tcp": {"port": -1}}, "health_check.tcp.port"),
        ({"type": "COMMAND"}, "health_check.command"),
        ({"type": "COMMAND", "command": {}}, "health_check.command.value"),
        (
            {"type": "COMMAND", "command": {"value": "x", "shell": "yes"}},
            "health_check.command.shell",
        ),
        (
            {"type": "COMMAND", "command": {"value": "x", "arguments": "a b"}},
            "health_check.command.arguments",
        ),
        (
            {
                "type": "COMMAND",
                "command": {"value": "x", "environment": {"variables": [{"value": "v"}]}},
            },
            "health_check.command.environment.variables[0].name",
        ),
        ({"type": "TCP", "tcp": {"port": 1}, "delay_seconds": -1}, "health_check.delay_seconds"),
        (
            {"type": "TCP", "tcp": {"port": 1}, "interval_seconds": -0.5},
            "health_check.interval_seconds",
        ),
        (
            {"type": "TCP", "tcp": {"port": 1}, "interval_seconds": 0},
            "health_check.interval_seconds",
        ),
        ({"type": "TCP", "tcp": {"port": 1}, "timeout_seconds": 0}, "health_check.timeout_seconds"),
        (
            {"type": "TCP", "tcp": {"port": 1}, "timeout_seconds": "Infinity"},
            "health_check.timeout_seconds",
        ),
        (
            {"type": "TCP", "tcp": {"port": 1}, "grace_period_seconds": -3},
            "health_check.grace_period_seconds",
        ),
        (
            {"type": "TCP", "tcp": {"port": 1}, "consecutive_failures": -1},
            "health_check.consecutive_failures",
        ),
        (
            {"type": "TCP", "tcp": {"port": 1}, "consecutive_failures": 1.5},
            "health_check.consecutive_failures",
        ),
    ],
)
def test_bad_input_names_its_json_path(obj: object, path: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_health_check(obj)
    assert e.value.path == path
    assert str(e.value).startswith(path + ": ")


def test_the_path_prefix_is_the_callers() -> None:
    with pytest.raises(InvalidInput) as e:
        parse_health_check({"type": "TCP", "tcp": {}}, "task_infos[2].health_check")
    assert e.value.path == "task_infos[2].health_check.tcp.port"


_seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
_positive = st.floats(min_value=0.001, max_value=1e6, allow_nan=False)
_specs = st.builds(
    HealthCheckSpec,
    type=st.sampled_from([CheckType.HTTP, CheckType.HTTPS, CheckType.TCP]),
    port=st.integers(1, 65535),
    path=st.text().map(lambda s: "/" + s),
    statuses=st.frozensets(st.integers(100, 599)),
    delay_seconds=_seconds,
    interval_seconds=_positive,
    timeout_seconds=_positive,
    consecutive_failures=st.integers(0, 100),
    grace_period_seconds=_seconds,
) | st.builds(
    HealthCheckSpec,
    type=st.just(CheckType.COMMAND),
    command=st.builds(
        CommandCheck,
        value=st.text(min_size=1),
        shell=st.booleans(),
        arguments=st.lists(st.text()).map(tuple),
        environment=st.lists(st.tuples(st.text(min_size=1), st.text())).map(tuple),
        user=st.none() | st.text(),
    ),
)


@given(_specs)
def test_to_json_round_trips(spec: HealthCheckSpec) -> None:
    if spec.type is CheckType.TCP:
        spec = replace(spec, path="/", statuses=frozenset())
    assert parse_health_check(spec.to_json()) == spec


# --------------------------------------------------------------------------------------
# The state machine


def test_observe_example_walkthrough() -> None:
    # grace 10 s, kill at 3; times are seconds since start.
    s = HealthState(started_at=100.0, grace_seconds=10.0, max_failures=3)
    s, d = observe(s, False, 101.0)
    assert d == NOTHING  # in grace, ignored
    s, d = observe(s, ProbeResult(False, "refused"), 110.0)
    assert d == NOTHING  # grace is inclusive, as in Mesos
    s, d = observe(s, ProbeResult(False, "refused"), 110.5)
    assert d == Decision(report=False, message="refused")  # counted: None -> False
    s, d = observe(s, False, 111.0)
    assert d == NOTHING  # still unhealthy: no second report
    s, d = observe(s, True, 112.0)
    assert d == Decision(report=True)  # False -> True, count reset
    s, d = observe(s, True, 113.0)
    assert d == NOTHING
    for t in (114.0, 115.0):
        s, d = observe(s, False, t)
        assert not d.kill
    s, d = observe(s, ProbeResult(False, "503"), 116.0)
    assert d.kill
    assert d.report is None  # already reported unhealthy at 114
    assert d.message == "Task failed 3 consecutive health checks; last: 503"
    assert observe(s, True, 117.0) == (s, NOTHING)  # over after a kill


def test_success_ends_grace_early() -> None:
    s = HealthState(started_at=0.0, grace_seconds=300.0, max_failures=1)
    s, d = observe(s, True, 1.0)
    assert d.report is True
    s, d = observe(s, False, 2.0)
    assert d == Decision(report=False, kill=True, message="Task failed 1 consecutive health checks")


def test_zero_consecutive_failures_kills_at_the_first_counted_failure() -> None:
    spec = HealthCheckSpec(type=CheckType.TCP, port=1, consecutive_failures=0)
    s = HealthState.initial(spec, started_at=0.0)
    assert s.max_failures == 1
    s, d = observe(s, False, 5.0)
    assert d == NOTHING  # grace still applies
    _, d = observe(s, False, 11.0)
    assert d.kill


_steps = st.lists(
    st.tuples(st.booleans(), st.floats(min_value=0, max_value=5, allow_nan=False)), max_size=60
)


@given(
    steps=_steps,
    grace=st.floats(min_value=0, max_value=30, allow_nan=False),
    threshold=st.integers(0, 5),
)
def test_observe_properties(steps: list[tuple[bool, float]], grace: float, threshold: int) -> None:
    spec = HealthCheckSpec(
        type=CheckType.TCP, port=1, grace_period_seconds=grace, consecutive_failures=threshold
    )
    n = max(1, threshold)
    state = HealthState.initial(spec, started_at=1000.0)
    now = 1000.0
    succeeded = False
    run = 0  # counted failures in a row, by this test's own bookkeeping
    killed = False
    reports: list[bool] = []
    for ok, dt in steps:
        now += dt
        in_grace = not succeeded and grace > 0 and now - 1000.0 <= grace
        state, d = observe(state, ok, now)
        if killed:
            assert d == NOTHING, "nothing happens after a kill"
            continue
        if ok:
            succeeded, run = True, 0
            assert not d.kill, "a success never kills"
        elif in_grace:
            assert d == NOTHING, "failures in grace before the first success are ignored"
        else:
            run += 1
            assert d.kill == (run == n), "kill exactly at the n-th counted failure in a row"
        killed = killed or d.kill
        if d.report is not None:
            assert d.report == ok, "a report tells this probe's outcome"
            assert not reports or reports[-1] != d.report, "only flips are reported"
            reports.append(d.report)
        if reports:
            assert state.healthy == reports[-1], "the state's health is the last report"
    assert state.killed == killed


@given(steps=_steps, threshold=st.integers(1, 5))
def test_a_success_resets_the_count(steps: list[tuple[bool, float]], threshold: int) -> None:
    state = HealthState(started_at=0.0, grace_seconds=0.0, max_failures=threshold)
    state, _ = observe(state, True, 0.0)
    # After any success, fewer than `threshold` failures never kill.
    for i in range(threshold - 1):
        state, d = observe(state, False, float(i + 1))
        assert not d.kill
    state, d = observe(state, True, float(threshold))
    assert state.consecutive_failures == 0
    for i in range(threshold - 1):
        state, d = observe(state, False, float(threshold + i + 1))
        assert not d.kill


# --------------------------------------------------------------------------------------
# The runner, on a fake clock


class Recorder:
    """Collects callback calls and lets a test wait for a condition on them."""

    def __init__(self) -> None:
        self.reports: list[bool] = []
        self.kills: list[str] = []
        self._changed = asyncio.Event()

    def on_health_change(self, healthy: bool) -> None:
        self.reports.append(healthy)
        self._changed.set()

    async def on_kill(self, message: str) -> None:
        await asyncio.sleep(0)  # callbacks may be coroutines
        self.kills.append(message)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def scripted(codes: list[int], calls: list[tuple[Any, float]]) -> RunCommand:
    """A command runner answering with the given exit codes, then 0 forever."""

    async def run(command: Mapping[str, Any], timeout: float) -> int:
        calls.append((command, timeout))
        return codes.pop(0) if codes else 0

    return run


async def test_runner_walks_the_state_machine_on_a_fake_clock() -> None:
    clock = FakeClock()
    calls: list[tuple[Any, float]] = []
    spec = HealthCheckSpec(
        type=CheckType.COMMAND,
        command=CommandCheck("check", environment=(("A", "1"),)),
        delay_seconds=15,
        interval_seconds=10,
        grace_period_seconds=30,
        consecutive_failures=2,
    )
    # t=15 fail (grace), 25 fail (grace), 35 ok, 45 fail, 55 ok, 65 fail, 75 fail -> kill
    rec = Recorder()
    checker = HealthChecker(
        spec,
        Target(run_command=scripted([1, 1, 0, 1, 0, 1, 1], calls)),
        on_health_change=rec.on_health_change,
        on_kill=rec.on_kill,
        clock=clock,
        sleep=clock.sleep,
    )
    await checker.run()
    assert rec.reports == [True, False, True, False]
    assert rec.kills == ["Task failed 2 consecutive health checks; last: command exited with 1"]
    assert clock.sleeps == [15] + [10] * 6
    # Each probe gets the normalised CommandInfo and timeout_seconds.
    info = {
        "value": "check",
        "shell": True,
        "environment": {"variables": [{"name": "A", "value": "1"}]},
    }
    assert calls == [(info, 20.0)] * 7
    assert checker.state is not None
    assert checker.state.killed


async def test_runner_grace_counts_from_started_at() -> None:
    clock = FakeClock()
    clock.now = 100.0
    spec = HealthCheckSpec(
        type=CheckType.COMMAND,
        command=CommandCheck("check"),
        delay_seconds=0,
        interval_seconds=1,
        grace_period_seconds=10,
        consecutive_failures=1,
    )
    rec = Recorder()
    checker = HealthChecker(
        spec,
        Target(run_command=scripted([1] * 100, [])),
        on_health_change=rec.on_health_change,
        on_kill=rec.on_kill,
        clock=clock,
        sleep=clock.sleep,
        started_at=95.0,  # the task was launched 5 s before the checker started
    )
    await checker.run()
    assert clock.now == 106.0  # failures up to 105 were in grace; 106 killed
    assert rec.reports == [False]


async def test_a_runner_that_raises_counts_as_a_failure() -> None:
    async def broken(command: Mapping[str, Any], timeout: float) -> int:
        raise RuntimeError("container is gone")

    clock = FakeClock()
    rec = Recorder()
    spec = HealthCheckSpec(
        type=CheckType.COMMAND,
        command=CommandCheck("x"),
        delay_seconds=0,
        grace_period_seconds=0,
        consecutive_failures=1,
    )
    await HealthChecker(
        spec,
        Target(run_command=broken),
        on_health_change=rec.on_health_change,
        on_kill=rec.on_kill,
        clock=clock,
        sleep=clock.sleep,
    ).run()
    assert rec.kills == [
        "Task failed 1 consecutive health checks; last: command could not run: container is gone"
    ]


async def test_a_probe_is_bounded_by_its_timeout() -> None:
    async def hangs(command: Mapping[str, Any], timeout: float) -> int:
        await asyncio.sleep(3600)
        return 0

    spec = HealthCheckSpec(type=CheckType.COMMAND, command=CommandCheck("x"), timeout_seconds=0.05)
    checker = HealthChecker(spec, Target(run_command=hangs), on_health_change=print, on_kill=print)
    assert await checker.probe() == ProbeResult(False, "timed out after 0.05s")


async def test_run_is_cancellable() -> None:
    rec = Recorder()
    spec = HealthCheckSpec(type=CheckType.TCP, port=1, delay_seconds=3600)
    task = asyncio.create_task(
        HealthChecker(
            spec, Target(), on_health_change=rec.on_health_change, on_kill=rec.on_kill
        ).run()
    )
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.reports == []
    assert rec.kills == []


def test_command_checks_need_a_runner() -> None:
    spec = HealthCheckSpec(type=CheckType.COMMAND, command=CommandCheck("x"))
    with pytest.raises(ValueError, match="run_command"):
        HealthChecker(spec, Target(), on_health_change=print, on_kill=print)


# --------------------------------------------------------------------------------------
# The runner against real servers (sub-second intervals; waits on conditions)


def fast(spec: HealthCheckSpec, **changes: Any) -> HealthCheckSpec:
    fields: dict[str, Any] = {
        "delay_seconds": 0,
        "interval_seconds": 0.02,
        "timeout_seconds": 5,
        "grace_period_seconds": 0,
        "consecutive_failures": 3,
    }
    return replace(spec, **{**fields, **changes})


@contextlib.asynccontextmanager
async def running(checker: HealthChecker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(checker.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class HttpServer:
    """A real aiohttp server on a free loopback port whose answer tests can change."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.status = 200
        self.paths: list[str] = []
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        headers = {"Location": "/elsewhere"} if 300 <= self.status < 400 else {}
        return web.Response(status=self.status, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        self._runner = None


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    server = HttpServer()
    await server.start()
    yield server
    if server._runner is not None:
        await server.stop()


async def test_http_healthy_then_unhealthy_then_killed(http_server: HttpServer) -> None:
    spec = fast(HealthCheckSpec(type=CheckType.HTTP, port=80, path="/health?deep=1"))
    rec = Recorder()
    checker = HealthChecker(
        spec,
        Target(host="127.0.0.1", port=lambda p: http_server.port if p == 80 else p),
        on_health_change=rec.on_health_change,
        on_kill=rec.on_kill,
    )
    async with running(checker) as task:
        await rec.wait_until(lambda: rec.reports == [True])
        assert http_server.paths[0] == "/health?deep=1"
        await http_server.stop()
        await rec.wait_until(lambda: rec.kills != [])
        await task  # run returns by itself after the kill
    assert rec.reports == [True, False]
    assert "GET http://127.0.0.1:" in rec.kills[0]


async def test_http_status_rules(http_server: HttpServer) -> None:
    spec = fast(HealthCheckSpec(type=CheckType.HTTP, port=http_server.port))
    checker = HealthChecker(spec, Target(), on_health_change=print, on_kill=print)
    for status, ok in ((200, True), (204, True), (301, True), (302, True), (404, False)):
        http_server.status = status
        assert (await checker.probe()).ok is ok, status
    http_server.status = 500
    result = await checker.probe()
    assert not result.ok
    assert result.message == f"GET http://127.0.0.1:{http_server.port}/ returned 500"
    custom = HealthChecker(
        replace(spec, statuses=frozenset({503})), Target(), on_health_change=print, on_kill=print
    )
    http_server.status = 503
    assert (await custom.probe()).ok
    http_server.status = 200
    assert not (await custom.probe()).ok
    assert http_server.paths == ["/"] * 8  # never followed a redirect


async def test_target_address_picks_host_and_port(http_server: HttpServer) -> None:
    asked: list[int] = []

    def address(port: int) -> tuple[str, int]:
        asked.append(port)
        return "127.0.0.1", http_server.port

    spec = fast(HealthCheckSpec(type=CheckType.HTTP, port=8080))
    target = Target(host="192.0.2.1", address=address)  # address wins over host
    assert (await HealthChecker(spec, target, on_health_change=print, on_kill=print).probe()).ok
    assert asked == [8080]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=self-signed.invalid", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_does_not_verify_certificates(tls_files: tuple[Path, Path]) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    server = HttpServer(ssl_context=context)
    await server.start()
    try:
        spec = fast(HealthCheckSpec(type=CheckType.HTTPS, port=server.port, path="/"))
        rec = Recorder()
        checker = HealthChecker(
            spec, Target(), on_health_change=rec.on_health_change, on_kill=rec.on_kill
        )
        async with running(checker):
            await rec.wait_until(lambda: rec.reports == [True])
        assert server.paths
        # The plain-HTTP check against the TLS port fails.
        plain = HealthChecker(
            replace(spec, type=CheckType.HTTP), Target(), on_health_change=print, on_kill=print
        )
        assert not (await plain.probe()).ok
    finally:
        await server.stop()


async def test_tcp_healthy_then_unhealthy_then_killed() -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    spec = fast(HealthCheckSpec(type=CheckType.TCP, port=port), consecutive_failures=2)
    rec = Recorder()
    checker = HealthChecker(
        spec, Target(), on_health_change=rec.on_health_change, on_kill=rec.on_kill
    )
    async with running(checker) as task:
        await rec.wait_until(lambda: rec.reports == [True])
        server.close()
        await server.wait_closed()
        await rec.wait_until(lambda: rec.kills != [])
        await task
    assert rec.reports == [True, False]
    assert f"127.0.0.1:{port}" in rec.kills[0]


async def test_grace_period_lets_a_slow_starter_come_up() -> None:
    # Nothing listens at first: failures are ignored in grace until the first success.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = fast(
        HealthCheckSpec(type=CheckType.TCP, port=port),
        grace_period_seconds=3600,
        consecutive_failures=1,
    )
    rec = Recorder()
    checker = HealthChecker(
        spec, Target(), on_health_change=rec.on_health_change, on_kill=rec.on_kill
    )

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with running(checker):
        async with asyncio.timeout(30):
            while checker.statistics().probes < 3:
                await asyncio.sleep(0.01)
        stats = checker.statistics()
        assert stats.last_result is not None
        assert not stats.last_result.ok
        assert rec.reports == []  # failing, but in grace
        server = await asyncio.start_server(accept, "127.0.0.1", port)
        await rec.wait_until(lambda: rec.reports == [True])
        server.close()
        await server.wait_closed()
        await rec.wait_until(lambda: rec.kills != [])  # grace ended with the success
    assert rec.reports == [True, False]


# --------------------------------------------------------------------------------------
# COMMAND checks with the process runner


async def _wait_dead(pid: int) -> None:
    async with asyncio.timeout(30):
        while alive(pid):
            await asyncio.sleep(0.01)


@pytest.fixture
def env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


async def test_run_shell_command_exit_codes(tmp_path: Path, env: dict[str, str]) -> None:
    run = run_shell_command
    assert await run({"value": "exit 0"}, cwd=tmp_path, env=env, timeout=30) == 0
    assert await run({"value": "exit 3"}, cwd=tmp_path, env=env, timeout=30) == 3
    assert await run({"value": "kill -9 $$"}, cwd=tmp_path, env=env, timeout=30) == -9
    # shell false: `value` is the program, `arguments` the whole argv.
    argv = {"shell": False, "value": sys.executable, "arguments": ["py", "-c", "exit(4)"]}
    assert await run(argv, cwd=tmp_path, env=env, timeout=30) == 4


async def test_run_shell_command_cwd_and_environment(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "marker").write_text("")
    command = {
        "value": 'test -f marker && test "$TASK_VAR" = task && test "$CHECK_VAR" = check',
        "environment": {"variables": [{"name": "CHECK_VAR", "value": "check"}]},
    }
    full_env = {**env, "TASK_VAR": "task", "CHECK_VAR": "overridden"}
    assert await run_shell_command(command, cwd=tmp_path, env=full_env, timeout=30) == 0
    (tmp_path / "marker").unlink()
    assert await run_shell_command(command, cwd=tmp_path, env=full_env, timeout=30) == 1


async def test_run_shell_command_timeout_kills_the_process_group(
    tmp_path: Path, env: dict[str, str]
) -> None:
    script = "sleep 3600 & echo $! > child.pid; wait"
    with pytest.raises(TimeoutError):
        await run_shell_command({"value": script}, cwd=tmp_path, env=env, timeout=3)
    await _wait_dead(int((tmp_path / "child.pid").read_text()))


async def test_cancelling_run_shell_command_kills_the_process_group(
    tmp_path: Path, env: dict[str, str]
) -> None:
    script = "sleep 3600 & echo $! > child.pid; wait"
    task = asyncio.create_task(
        run_shell_command({"value": script}, cwd=tmp_path, env=env, timeout=3600)
    )
    async with asyncio.timeout(30):
        while not (tmp_path / "child.pid").exists() or not (tmp_path / "child.pid").read_text():
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _wait_dead(int((tmp_path / "child.pid").read_text()))


async def test_a_cancellation_at_any_moment_leaves_no_process(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # Cancelled while the child is being spawned (it may already run) or while it runs:
    # either way its whole process group goes.
    seconds = 3_600_000 + os.getpid() % 100_000  # an argv no other test uses
    for yields in range(80):
        task = asyncio.create_task(
            run_shell_command(
                {"value": f"sleep {seconds} & wait"}, cwd=tmp_path, env=env, timeout=3600
            )
        )
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async with asyncio.timeout(30):
        while processes_mentioning(f"sleep {seconds}"):
            await asyncio.sleep(0.05)


async def test_command_check_in_a_sandbox(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "ok").write_text("")
    spec = fast(
        parse_health_check({"type": "COMMAND", "command": {"value": "test -f ok"}}),
        consecutive_failures=2,
    )
    rec = Recorder()
    checker = HealthChecker(
        spec,
        Target(run_command=command_runner(cwd=tmp_path, env=env)),
        on_health_change=rec.on_health_change,
        on_kill=rec.on_kill,
    )
    async with running(checker) as task:
        await rec.wait_until(lambda: rec.reports == [True])
        (tmp_path / "ok").unlink()
        await rec.wait_until(lambda: rec.reports == [True, False])
        (tmp_path / "ok").write_text("")
        await rec.wait_until(lambda: rec.reports == [True, False, True])
        (tmp_path / "ok").unlink()
        await rec.wait_until(lambda: rec.kills != [])
        await task
    assert rec.kills == ["Task failed 2 consecutive health checks; last: command exited with 1"]
