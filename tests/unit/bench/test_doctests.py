"""The docstring examples of the benchmark modules run, like those of ``berth``."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "bench.__main__",
    "bench.report",
    "bench.procfs",
    "bench.engine",
    "bench.master_idle_agents",
    "bench.docker_launch_latency",
    "bench.marathon_launch",
    "bench.marathon_api_latency",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0
