"""Every example in a docstring of Berth's code is run, so examples never go stale."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import berth

# Modules that run a service on import (entry points) are not example-bearing.
SKIP = {"berth.__main__", "berth.sim.__main__"}

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(berth.__path__, prefix="berth.") if m.name not in SKIP
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
