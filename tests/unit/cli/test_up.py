"""``berth up``'s small pure helpers: flag parsing, exit descriptions, restart backoff."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.cli.up import banner, containerizer_choice, parse_port_range
from berth.cli.up_plan import UpSettings, plan
from berth.cli.up_probe import docker_endpoint
from berth.cli.up_supervisor import RESTART_BACKOFF_MAX, describe_exit, restart_delay
from berth.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("auto", "auto"),
        ("docker", "docker"),
        ("process", "process"),
        ("docker,process", "docker"),
        (" process , docker ", "docker"),
    ],
)
def test_containerizer_choice(text: str, choice: str) -> None:
    assert containerizer_choice(text) == choice


@pytest.mark.parametrize("text", ["", "runc", "docker,runc", "auto,process"])
def test_containerizer_choice_refuses_the_unknown(text: str) -> None:
    with pytest.raises(InvalidInput, match="--containerizer must be auto, docker or process"):
        containerizer_choice(text)


@pytest.mark.parametrize("text", ["31000", "a-b", "31000-", ""])
def test_bad_task_ports_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="--task-ports"):
        parse_port_range(text)


@given(st.integers(1, 200))
def test_restart_delay_grows_and_is_capped(n: int) -> None:
    assert 0 < restart_delay(n) <= restart_delay(n + 1) <= RESTART_BACKOFF_MAX


def test_restart_delays_double_from_half_a_second() -> None:
    delays = [restart_delay(n) for n in range(1, 9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert all(b >= a for a, b in itertools.pairwise(delays))


def test_describe_exit() -> None:
    assert describe_exit(0) == "exited with status 0"
    assert describe_exit(-15) == "was killed by SIGTERM"


def test_docker_endpoint_reads_docker_host_like_the_agent() -> None:
    assert docker_endpoint("unix:///run/user/1000/docker.sock") == (
        "/run/user/1000/docker.sock",
        "",
        0,
    )
    assert docker_endpoint("tcp://127.0.0.1:2376") == (None, "127.0.0.1", 2376)


def test_banner_puts_the_gateway_first() -> None:
    children = plan(UpSettings(Path("/d"), agents=2))
    lines = banner(children, Path("/d"), 2.04).splitlines()
    assert lines[0] == "Berth is up (2.0 s):"
    assert lines[1].split()[:2] == ["open", "http://127.0.0.1:8000"]
    assert lines[2].split() == ["master", "http://127.0.0.1:5050"]
    assert lines[3].split() == ["marathon", "http://127.0.0.1:8080"]
    assert lines[4].split()[:2] == ["agent-1", "http://127.0.0.2:5051"]
    assert lines[5].split()[:2] == ["agent-2", "http://127.0.0.3:5051"]
    assert lines[6].split()[:2] == ["data", "/d"]
    assert "Ctrl-C" in lines[-1]
