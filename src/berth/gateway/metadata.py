"""The documents the gateway answers itself: cluster metadata in DC/OS's shapes.

Field names are what DC/OS tooling reads (reference ``dcos.md`` (a) and (b)): the DC/OS
CLI keys its configuration folder on ``CLUSTER_ID`` (a lowercase UUIDv4; a ``/metadata``
without it crashes the CLI), shows ``version`` from ``dcos-version.json``, and picks the
task-log mechanism from ``ui-config.json`` and ``/capabilities`` (answered 404, see
``routes``).
"""

from __future__ import annotations

import html
import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import berth

log = logging.getLogger(__name__)

# A DC/OS release whose API the gateway's routes follow; dcoscli 0.6.1 accepts any.
DCOS_VERSION = "1.12.0"

_CLUSTER_ID_FILE = "cluster-id"


def load_or_create_cluster_id(data_dir: Path) -> str:
    """The cluster's id, kept in ``data_dir/cluster-id``; made (a UUIDv4) on first call.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> first = load_or_create_cluster_id(d)
    >>> first == load_or_create_cluster_id(d) and uuid.UUID(first).version == 4
    True
    """
    path = data_dir / _CLUSTER_ID_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        try:
            return str(uuid.UUID(existing))
        except ValueError:
            raise ValueError(
                f"{path} holds {existing!r}, which is not a UUID; "
                "restore it or delete it to make a new cluster id"
            ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    cluster_id = str(uuid.uuid4())
    # Write then rename, so a crash never leaves a half-written id behind.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cluster_id + "\n")
    os.replace(tmp, path)
    log.info("new cluster id %s (kept in %s)", cluster_id, path)
    return cluster_id


def metadata_json(public_ip: str, cluster_id: str) -> dict[str, Any]:
    """``GET /metadata``.

    >>> metadata_json("10.0.0.1", "c0ffee")
    {'PUBLIC_IPV4': '10.0.0.1', 'CLUSTER_ID': 'c0ffee'}
    """
    return {"PUBLIC_IPV4": public_ip, "CLUSTER_ID": cluster_id}


def dcos_version_json() -> dict[str, Any]:
    """``GET /dcos-metadata/dcos-version.json``: the DC/OS API level, and Berth's own."""
    return {
        "version": DCOS_VERSION,
        "dcos-image-commit": f"berth-{berth.__version__}",
        "bootstrap-id": f"berth-{berth.__version__}",
        "dcos-variant": "open",
    }


def ui_config_json() -> dict[str, Any]:
    """``GET /dcos-metadata/ui-config.json``: task logs live in sandboxes (files API)."""
    return {"uiConfiguration": {"plugins": {"mesos": {"logging-strategy": "logrotate"}}}}


def buildinfo_json() -> dict[str, Any]:
    """``GET /pkgpanda/active.buildinfo.full.json``: the parts of the cluster, keyed by the
    DC/OS package each one stands in for (DC/OS checks for a ``mesos`` key)."""
    parts = {
        "mesos": "berth master and agents",
        "marathon": "berth marathon",
        "adminrouter": "berth gateway",
        "mesos-dns": "berth dns",
        "dcos-ui": "berth web UI",
        "dcos-metadata": "berth gateway",
    }
    return {
        name: {"name": name, "package_version": berth.__version__, "provided_by": what}
        for name, what in parts.items()
    }


def auth_providers_json() -> dict[str, Any]:
    """``GET /acs/api/v1/auth/providers``: none; the cluster is open (no login needed)."""
    return {}


def berth_ui_json() -> dict[str, str]:
    """``GET /berth-ui.json``: where the web UI finds the APIs, relative to the gateway."""
    return {"marathon": "/service/marathon", "mesos": "/mesos", "agent": "/agent/{id}"}


def dns_hosts_json(
    name: str, master_hostname: str, frameworks: Mapping[str, str]
) -> list[dict[str, str]] | None:
    """Mesos-DNS's answer for a host ``name`` that the master's state can give: the
    masters (``master.mesos``, ``leader.mesos``) and frameworks (``<name>.mesos``, the
    scheduler's host); None for any other name.

    The DC/OS CLI marks the master whose ``ip`` equals the master state's ``hostname``
    as the leader, so that is the value given (an address, on a default Berth cluster).

    >>> dns_hosts_json("master.mesos", "10.0.0.1", {})
    [{'host': 'master.mesos.', 'ip': '10.0.0.1'}]
    >>> dns_hosts_json("marathon.mesos", "10.0.0.1", {"marathon": "10.0.0.2"})
    [{'host': 'marathon.mesos.', 'ip': '10.0.0.2'}]
    >>> dns_hosts_json("web.marathon.mesos", "10.0.0.1", {}) is None
    True
    """
    if name in ("master.mesos", "leader.mesos"):
        return [{"host": f"{name}.", "ip": master_hostname}]
    framework, dot, domain = name.rpartition(".")
    if dot and domain == "mesos" and framework in frameworks:
        return [{"host": f"{name}.", "ip": frameworks[framework]}]
    return None


def landing_page(cluster_id: str, links: list[tuple[str, str]]) -> str:
    """The start page shown when no web UI is installed: where everything is.

    >>> "/marathon/" in landing_page("c", [("/marathon/", "Marathon API")])
    True
    """
    items = "\n".join(
        f'      <li><a href="{html.escape(url)}">{html.escape(url)}</a> {html.escape(what)}</li>'
        for url, what in links
    )
    return f"""<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Berth cluster</title></head>
  <body>
    <h1>Berth cluster</h1>
    <p>Cluster id <code>{html.escape(cluster_id)}</code>, version {berth.__version__}.
    No web UI is installed in this gateway; the cluster's APIs are here:</p>
    <ul>
{items}
    </ul>
  </body>
</html>
"""
