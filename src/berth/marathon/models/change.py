"""What kind of change turns one app definition into another (reference 3.1).

``scale`` when only ``instances`` differs, ``restart`` when anything that shapes a running
task or its handling differs (command, resources, container, ports, networks, checks,
constraints, fetch, labels, strategies, backoff, role, ...), ``none`` when they are the
same configuration. Version metadata is not configuration: an identical definition
re-PUT with a new version is still ``none``, and restarts nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from berth.marathon.models.app import AppDefinition

Change = Literal["none", "scale", "restart"]


def config_of(app: AppDefinition) -> AppDefinition:
    """``app`` without what a scale or a new version changes: its configuration alone."""
    return replace(app, instances=0, version=None, version_info=None)


def classify_change(old: AppDefinition, new: AppDefinition) -> Change:
    """Classify ``old`` -> ``new`` for the planner.

    >>> from berth.marathon.models.pathid import PathId
    >>> a = AppDefinition(id=PathId.parse("/web"), cmd="serve")
    >>> classify_change(a, a), classify_change(a, replace(a, instances=3))
    ('none', 'scale')
    >>> classify_change(a, replace(a, instances=3, mem=256.0))
    'restart'
    """
    if config_of(old) != config_of(new):
        return "restart"
    return "scale" if old.instances != new.instances else "none"
