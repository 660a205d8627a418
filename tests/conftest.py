"""Fixtures shared by the integration and compatibility suites."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, cluster_fixture


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    for c in cluster_fixture(tmp_path):
        yield c
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(c.logs())  # shown with the failure: the services' own account


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster shared by the tests of a module that do not disturb each other."""
    yield from cluster_fixture(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="session")
def busybox_image() -> str:
    from tests.integration.images import ensure_busybox_image

    return ensure_busybox_image()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
