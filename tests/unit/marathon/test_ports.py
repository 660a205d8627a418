"""Service-port assignment (reference 2.3 step 8): zeros become free ports from the range,
unique across the cluster; explicit ports stay; an app keeps the ports it had."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.marathon.models import (
    ROOT,
    AppDefinition,
    Group,
    MarathonValidationError,
    PathId,
    PortDefinition,
    assign_service_ports,
    classify_change,
    parse_app,
    with_service_ports,
)


def host_app(path: str, *ports: int) -> AppDefinition:
    return AppDefinition(
        id=PathId.parse(path), cmd="xx", port_definitions=tuple(PortDefinition(p) for p in ports)
    )


def deploy(root: Group, app: AppDefinition, port_range: tuple[int, int] = (10000, 20000)) -> Group:
    return root.with_app(assign_service_ports(root, app, port_range))


def test_zeros_get_the_lowest_free_ports() -> None:
    root = deploy(Group(ROOT), host_app("/a", 0, 0))
    assert root.app(PathId.parse("/a")).service_ports == (10000, 10001)  # type: ignore[union-attr]
    b = assign_service_ports(root, host_app("/b", 0, 10005, 0))
    assert b.service_ports == (10002, 10005, 10003)


def test_container_mappings_get_service_ports_too() -> None:
    app = parse_app(
        {
            "id": "/web",
            "networks": [{"mode": "container/bridge"}],
            "container": {
                "docker": {"image": "x"},
                "portMappings": [
                    {"containerPort": 80},
                    {"containerPort": 81, "servicePort": 10000},
                ],
            },
        }
    )
    assert assign_service_ports(Group(ROOT), app).service_ports == (10001, 10000)


def test_explicit_ports_are_kept_even_when_another_app_uses_them() -> None:
    root = deploy(Group(ROOT), host_app("/a", 10000))
    assert assign_service_ports(root, host_app("/b", 10000)).service_ports == (10000,)


def test_an_app_gets_its_own_ports_back() -> None:
    root = deploy(Group(ROOT), host_app("/filler", 0, 0, 0))
    root = deploy(root, host_app("/web", 0))  # gets 10003
    root = root.without_app(PathId.parse("/filler"))
    # Re-PUT of the original body (still saying 0): the same port, so nothing changes.
    again = assign_service_ports(root, host_app("/web", 0))
    assert again.service_ports == (10003,)
    assert classify_change(root.app(PathId.parse("/web")), again) == "none"  # type: ignore[arg-type]


def test_an_exhausted_range_is_refused() -> None:
    root = deploy(Group(ROOT), host_app("/a", 0, 0), (100, 102))
    with pytest.raises(MarathonValidationError, match="no free service port"):
        assign_service_ports(root, host_app("/b", 0), (100, 102))


def test_apps_without_zero_ports_are_returned_unchanged() -> None:
    app = host_app("/a", 1, 2)
    assert assign_service_ports(Group(ROOT), app) is app


def test_with_service_ports_needs_one_port_per_index() -> None:
    with pytest.raises(ValueError, match="has 1 ports"):
        with_service_ports(host_app("/a", 0), (1, 2))


@given(st.lists(st.lists(st.sampled_from([0, 0, 0, 10001, 10003]), max_size=4), max_size=12))
@settings(max_examples=200)
def test_assigned_ports_are_unique_across_the_cluster(port_lists: list[list[int]]) -> None:
    root = Group(ROOT)
    for i, ports in enumerate(port_lists):
        app = host_app(f"/g{i % 3}/app{i}", *ports)
        assigned = assign_service_ports(root, app)
        assert 0 not in assigned.service_ports
        # Explicit ports survive; every other one is free and in range.
        for asked, got in zip(ports, assigned.service_ports, strict=True):
            if asked:
                assert got == asked
            else:
                assert 10000 <= got < 20000
        root = root.with_app(assigned)
    assigned_ports = [p for a in root.transitive_apps() for p in a.service_ports]
    explicit = [p for ports in port_lists for p in ports if p]
    # Duplicates can only come from ports users chose themselves.
    duplicates = {p for p in assigned_ports if assigned_ports.count(p) > 1}
    assert duplicates <= set(explicit)


def test_service_ports_follow_the_networking_mode() -> None:
    app = host_app("/a", 0)
    assert with_service_ports(app, (12345,)).port_definitions[0].port == 12345
    bridged = parse_app({"id": "/b", "networks": [{"mode": "container/bridge"}]})
    assert with_service_ports(bridged, (12345,)).port_mappings[0].service_port == 12345
    assert replace(bridged).service_ports == (0,)
