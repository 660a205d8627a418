"""Feasibility: one check per concern, in Marathon's funnel order, each saying why not."""

from __future__ import annotations

from dataclasses import replace

from berth.core.resources import Resources
from berth.marathon.placement import (
    CHECKS,
    REASONS,
    PlacementOptions,
    Rejection,
    RejectReason,
    Unavailability,
    check_offer,
)
from tests.unit.marathon.placement.factories import make_offer, make_request, on


def why(rejection: Rejection | None) -> tuple[str, str] | None:
    """(reason, detail), the two things /v2/queue and the logs show."""
    if rejection is None:
        return None
    return (str(rejection.reason), rejection.detail)


def test_checks_follow_the_funnel_order() -> None:
    order = list(dict.fromkeys(reason for reason, _ in CHECKS))
    assert order == [r for r in REASONS if r != RejectReason.NO_CORRESPONDING_RESERVATION_FOUND]
    assert [r.value for r in REASONS] == [
        "UnfulfilledRole",
        "UnfulfilledConstraint",
        "NoCorrespondingReservationFound",
        "AgentMaintenance",
        "InsufficientCpus",
        "InsufficientMemory",
        "InsufficientDisk",
        "InsufficientGpus",
        "InsufficientPorts",
        "DeclinedScarceResources",
    ]


def test_a_fitting_offer_passes() -> None:
    assert check_offer(make_request(host_ports=(0, 0)), make_offer("a")) is None


def test_each_scalar_shortfall() -> None:
    offer = make_offer("a", "cpus:0.2;mem:64;disk:10;gpus:1")
    assert why(check_offer(make_request(cpus=0.5), offer)) == (
        "InsufficientCpus",
        "insufficient cpus: 0.5 needed, 0.2 offered",
    )
    assert why(check_offer(make_request(cpus=0.1, mem=128), offer)) == (
        "InsufficientMemory",
        "insufficient mem: 128 needed, 64 offered",
    )
    assert why(check_offer(make_request(cpus=0.1, mem=32, disk=10.5), offer)) == (
        "InsufficientDisk",
        "insufficient disk: 10.5 needed, 10 offered",
    )
    assert why(check_offer(make_request(cpus=0.1, mem=32, gpus=2), offer)) == (
        "InsufficientGpus",
        "insufficient gpus: 2 needed, 1 offered",
    )


def test_first_failing_stage_wins() -> None:
    # Short of cpus AND breaking a constraint: the constraint comes first in the funnel.
    offer = make_offer("a", "cpus:0.1;mem:64")
    req = make_request(constraints=(("hostname", "LIKE", "b.*"),))
    assert why(check_offer(req, offer)) == (
        "UnfulfilledConstraint",
        "constraint hostname LIKE b.*: a does not match",
    )


def test_remaining_is_what_counts_not_the_whole_offer() -> None:
    offer = make_offer("a", "cpus:1;mem:512")
    assert why(
        check_offer(make_request(cpus=0.5), offer, remaining=Resources.of(cpus=0.4, mem=512))
    ) == ("InsufficientCpus", "insufficient cpus: 0.5 needed, 0.4 offered")


def test_ports() -> None:
    offer = make_offer("a", "cpus:4;mem:4096;ports:[31000-31001]")
    assert why(check_offer(make_request(host_ports=(0, 0, 0)), offer)) == (
        "InsufficientPorts",
        "3 host ports needed, 2 offered",
    )
    assert why(check_offer(make_request(host_ports=(8080,), require_ports=True), offer)) == (
        "InsufficientPorts",
        "no free host port 8080 (requirePorts)",
    )


# --------------------------------------------------------------------------- roles


RESERVED_ONLY = make_offer("r", "cpus(eng):4;mem(eng):4096", role="eng")
MIXED = make_offer("m", "cpus(eng):0.5;mem(eng):1024;cpus:1;mem:512", role="eng")


def test_resources_reserved_to_an_unaccepted_role() -> None:
    # The app runs as eng but accepts only unreserved resources; every resource here is
    # reserved to eng, so nothing in the offer is usable at all.
    req = make_request(role="eng", accepted_roles=("*",))
    assert why(check_offer(req, RESERVED_ONLY)) == (
        "UnfulfilledRole",
        "role 'eng' not accepted (acceptedResourceRoles: *)",
    )
    # By default an eng app accepts "*" and "eng".
    assert check_offer(make_request(role="eng"), RESERVED_ONLY) is None


def test_accepted_roles_limit_the_quantities_counted() -> None:
    # 1.5 cpus in all (0.5 reserved to eng, 1 unreserved); accepting only "*" sees 1.
    req = make_request(role="eng", cpus=1.2, accepted_roles=("*",))
    assert why(check_offer(req, MIXED)) == (
        "InsufficientCpus",
        "insufficient cpus: 1.2 needed, 1 offered",
    )
    assert check_offer(make_request(role="eng", cpus=1.2), MIXED) is None


def test_offer_allocated_to_another_role() -> None:
    assert why(check_offer(make_request(role="*"), MIXED)) == (
        "UnfulfilledRole",
        "offer is for role 'eng', the app's role is '*'",
    )
    # When the master does not say which role an offer is for, only reservations matter.
    unknown = make_offer("u", "cpus:1;mem:512", role=None)
    assert check_offer(make_request(role="eng"), unknown) is None


# --------------------------------------------------------------------------- policy checks


def test_maintenance_only_when_now_is_given() -> None:
    offer = replace(make_offer("a"), unavailability=Unavailability(1000.0, 600.0))
    req = make_request()
    assert check_offer(req, offer) is None
    assert check_offer(req, offer, options=PlacementOptions(now=900)) is None
    assert why(
        check_offer(req, offer, options=PlacementOptions(now=900, draining_seconds=100))
    ) == ("AgentMaintenance", "agent is under maintenance from 1000 for 600s")
    assert check_offer(req, offer, options=PlacementOptions(now=1600)) is None


def test_scarce_gpus_kept_for_gpu_apps_when_restricted() -> None:
    offer = make_offer("g", "cpus:4;mem:4096;gpus:2")
    restricted = PlacementOptions(gpu_scheduling_behavior="restricted")
    assert check_offer(make_request(), offer) is None
    assert why(check_offer(make_request(), offer, options=restricted)) == (
        "DeclinedScarceResources",
        "agent offers 2 gpus and the app needs none (gpu_scheduling_behavior: restricted)",
    )
    assert check_offer(make_request(gpus=1), offer, options=restricted) is None


def test_placed_instances_feed_the_constraints() -> None:
    a = make_offer("a")
    req = make_request(constraints=(("hostname", "MAX_PER", "2"),))
    assert check_offer(req, a, [on(a, "1")]) is None
    assert why(check_offer(req, a, [on(a, "1"), on(a, "2")])) == (
        "UnfulfilledConstraint",
        "constraint hostname MAX_PER 2: a already has 2 instances",
    )
