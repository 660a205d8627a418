"""Berth: a small datacenter operating system.

Mesos-compatible master and agents, Marathon-compatible orchestration of long-running
services, Docker containers. See ``docs/`` for the concepts and ``DESIGN.md`` for the shape.
"""

__version__ = "0.1.0"

# The version the master reports on ``/version``. pymesos parses every dot-separated part
# with int(), so this must stay a plain ``X.Y.Z``; it names the Mesos API level Berth speaks.
MESOS_COMPAT_VERSION = "1.11.0"
