"""Containerizers: what actually runs a task on an agent.

Two implementations of one interface (``base.Containerizer``):

* ``DockerContainerizer`` - Docker Engine containers (images, limits, networks, ports);
* ``ProcessContainerizer`` - host processes, each in its own session and cgroup, watched
  by a small shim that outlives agent restarts.

The agent builds a ``LaunchSpec`` (``berth.agent.launch``) from a TaskInfo and hands it
to a containerizer; the containerizer knows nothing of frameworks, status updates or
the master. Its per-container files live in a runtime directory the agent checkpoints.
"""

from berth.agent.containerizers.base import (
    Containerizer,
    ContainerizerError,
    Launched,
    LaunchError,
    RecoveryRecord,
    Termination,
    Usage,
)
from berth.agent.containerizers.docker import DockerContainerizer
from berth.agent.containerizers.process import ProcessContainerizer

__all__ = [
    "Containerizer",
    "ContainerizerError",
    "DockerContainerizer",
    "LaunchError",
    "Launched",
    "ProcessContainerizer",
    "RecoveryRecord",
    "Termination",
    "Usage",
]
