"""Fixtures shared by the integration and compatibility suites."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path

import pytest
import uvloop
from hypothesis import settings

from tests.cluster import Cluster, cluster_fixture

# Property tests judge behaviour, not speed: Hypothesis's per-example deadline is a timing
# assertion, and fails at random when the suite loads both cores.
settings.register_profile("berth", deadline=None)
settings.load_profile("berth")


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    for c in cluster_fixture(tmp_path):
        yield c
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.logs())  # shown with the failure: the services' own account


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Async tests run on uvloop, as the services do (its subprocess and socket APIs
    differ from asyncio's in small ways that matter)."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster shared by the tests of a module that do not disturb each other."""
    yield from cluster_fixture(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="session")
def busybox_image() -> str:
    from tests.images import ensure_busybox_image

    return ensure_busybox_image()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session")
def python_image() -> str:
    from tests.images import ensure_python_image

    return ensure_python_image()
