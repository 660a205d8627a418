"""Cluster metadata documents and the cluster id file."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from berth.gateway import metadata


def test_cluster_id_is_a_lowercase_uuid4_kept_across_restarts(tmp_path: Path) -> None:
    first = metadata.load_or_create_cluster_id(tmp_path / "gw")
    assert uuid.UUID(first).version == 4
    assert first == first.lower()
    assert metadata.load_or_create_cluster_id(tmp_path / "gw") == first


def test_a_damaged_cluster_id_file_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "cluster-id").write_text("not-a-uuid\n")
    with pytest.raises(ValueError, match="not a UUID"):
        metadata.load_or_create_cluster_id(tmp_path)
    assert (tmp_path / "cluster-id").read_text() == "not-a-uuid\n"


def test_documents_have_the_fields_dcos_tooling_reads() -> None:
    assert metadata.metadata_json("1.2.3.4", "c") == {"PUBLIC_IPV4": "1.2.3.4", "CLUSTER_ID": "c"}
    version = metadata.dcos_version_json()
    assert set(version) == {"version", "dcos-image-commit", "bootstrap-id", "dcos-variant"}
    strategy = metadata.ui_config_json()["uiConfiguration"]["plugins"]["mesos"]
    assert strategy["logging-strategy"] == "logrotate"
    assert "mesos" in metadata.buildinfo_json()
    assert metadata.dns_hosts_json("leader.mesos", "10.1.1.1", {}) == [
        {"host": "leader.mesos.", "ip": "10.1.1.1"}
    ]
    assert metadata.dns_hosts_json("nope.mesos", "10.1.1.1", {"marathon": "h"}) is None
    assert metadata.dns_hosts_json("mesos", "10.1.1.1", {"": "h"}) is None


def test_landing_page_escapes_what_it_shows() -> None:
    page = metadata.landing_page("<id>", [("/a?b=<c>", "x & y")])
    assert "<id>" not in page
    assert "&lt;id&gt;" in page
    assert "x &amp; y" in page
