"""Offers: the Mesos JSON of mesos.md section a becomes an OfferView; bad JSON -> InvalidInput."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from berth.core.attributes import Attribute
from berth.core.errors import InvalidInput
from berth.core.resources import Resources
from berth.marathon.placement import OfferView, Unavailability

# The composed example of the reference, plus a fault domain and a reserved resource.
OFFER: dict[str, Any] = {
    "id": {"value": "M-O12"},
    "framework_id": {"value": "M-0000"},
    "agent_id": {"value": "M-S0"},
    "hostname": "node1",
    "allocation_info": {"role": "eng"},
    "url": {
        "scheme": "http",
        "address": {"hostname": "node1", "ip": "10.0.0.5", "port": 5051},
        "path": "/slave(1)",
    },
    "resources": [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 3.9},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 2},
            "role": "eng",
            "reservations": [{"type": "STATIC", "role": "eng"}],
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 6844},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 32000}]},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
    ],
    "attributes": [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "level", "type": "SCALAR", "scalar": {"value": 10}},
    ],
    "executor_ids": [{"value": "exec-1"}],
    "domain": {"fault_domain": {"region": {"name": "eu-west"}, "zone": {"name": "eu-west-1a"}}},
    "unavailability": {
        "start": {"nanoseconds": 1_700_000_000_000_000_000},
        "duration": {"nanoseconds": 3_600_000_000_000},
    },
}


def test_reference_offer_parses() -> None:
    offer = OfferView.from_mesos(OFFER)
    assert (offer.id, offer.agent_id, offer.hostname, offer.role) == (
        "M-O12",
        "M-S0",
        "node1",
        "eng",
    )
    assert offer.resources == Resources.parse_text(
        "cpus:3.9;cpus(eng):2;mem:6844;ports:[31000-32000]"
    )
    assert offer.attributes == (
        Attribute("rack", "TEXT", "r1"),
        Attribute("level", "SCALAR", 10.0),
    )
    assert (offer.region, offer.zone) == ("eu-west", "eu-west-1a")
    assert offer.unavailability == Unavailability(1_700_000_000.0, 3600.0)


def test_optional_parts_may_be_missing() -> None:
    bare = {
        k: v
        for k, v in OFFER.items()
        if k not in ("domain", "unavailability", "allocation_info", "attributes")
    }
    offer = OfferView.from_mesos(bare)
    assert (offer.role, offer.region, offer.zone, offer.unavailability) == (None, None, None, None)
    assert offer.attributes == ()


def test_region_without_zone() -> None:
    data = copy.deepcopy(OFFER)
    data["domain"] = {"fault_domain": {"region": {"name": "eu"}}}
    offer = OfferView.from_mesos(data)
    assert (offer.region, offer.zone) == ("eu", None)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.pop("id"), "offer.id"),
        (lambda d: d.update(agent_id={"value": 3}), "offer.agent_id"),
        (lambda d: d.update(hostname=""), "offer.hostname"),
        (lambda d: d["resources"][0].update(type="RANGES"), "offer.resources[0].type"),
        (lambda d: d["attributes"][1].update(type="SET"), "offer.attributes[1].type"),
        (
            lambda d: d["domain"]["fault_domain"].update(zone={"id": "z"}),
            "offer.domain.fault_domain.zone",
        ),
        (
            lambda d: d["unavailability"].update(start={"nanoseconds": 1.5}),
            "offer.unavailability.start",
        ),
        (lambda d: d["unavailability"].pop("start"), "offer.unavailability.start"),
    ],
)
def test_malformed_offer_names_the_path(change: Any, path: str) -> None:
    data = copy.deepcopy(OFFER)
    change(data)
    with pytest.raises(InvalidInput) as info:
        OfferView.from_mesos(data)
    assert info.value.path == path


def test_not_an_object() -> None:
    with pytest.raises(InvalidInput, match="expected an offer object"):
        OfferView.from_mesos([])


def test_unavailability_window() -> None:
    window = Unavailability(start=100, duration=50)
    assert [window.covers(t) for t in (99, 100, 149, 150)] == [False, True, True, False]
    assert window.covers(95, draining_seconds=5)
    assert Unavailability(100).covers(10**9)  # open-ended
