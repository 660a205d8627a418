"""One launch round: which waiting instance goes on which offer, with which TaskInfo."""

from __future__ import annotations

from berth.core.jsonutil import id_value
from berth.marathon.instances import Instance
from berth.marathon.launcher import match_offers
from berth.marathon.models.app import AppDefinition
from berth.marathon.models.parse import parse_app
from tests.unit.marathon.placement.factories import make_offer

WEB_V1 = parse_app(
    {"id": "/web", "cmd": "serve", "cpus": 1, "mem": 64, "version": "2026-01-01T00:00:00.000Z"}
)
WEB_V2 = parse_app(
    {"id": "/web", "cmd": "serve v2", "cpus": 1, "mem": 64, "version": "2026-01-02T00:00:00.000Z"}
)
V1, V2 = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"


def waiting(instance_id: str, version: str, at: float = 0.0) -> Instance:
    return Instance(instance_id, "/web", version, scheduled_at=at)


def definition(app_id: str, version: str) -> AppDefinition | None:
    return {V1: WEB_V1, V2: WEB_V2}.get(version)


def test_instances_launch_with_a_new_incarnation_and_their_task() -> None:
    offer = make_offer("a", "cpus:2;mem:1024;ports:[31000-31009]")
    round_ = match_offers(
        [waiting("web.instance-1", V1), waiting("web.instance-2", V1, 1.0)],
        [offer],
        definition=definition,
        placed=lambda _app: [],
        now=5.0,
        seed=1,
    )
    assert [launch.instance.instance_id for launch in round_.launches] == [
        "web.instance-1",
        "web.instance-2",
    ]
    for launch in round_.launches:
        assert launch.offer_id == offer.id
        assert launch.instance.incarnation == 1
        assert launch.instance.staged_at == 5.0
        assert id_value(launch.task["task_id"]) == launch.instance.task_id
        assert launch.task["command"]["value"] == "serve"
        assert len(launch.instance.host_ports) == 1  # the default port definition
    assert round_.unused_offers == ()
    assert round_.unplaced == {}


def test_one_version_per_app_per_round_newest_first() -> None:
    offer = make_offer("a", "cpus:4;mem:1024;ports:[31000-31009]")
    round_ = match_offers(
        [waiting("old", V1), waiting("new", V2)],
        [offer],
        definition=definition,
        placed=lambda _app: [],
        now=0.0,
        seed=1,
    )
    assert [launch.instance.instance_id for launch in round_.launches] == ["new"]
    assert round_.launches[0].task["command"]["value"] == "serve v2"


def test_what_does_not_fit_is_unplaced_with_reasons_and_offers_unused() -> None:
    small = make_offer("a", "cpus:0.5;mem:1024;ports:[31000-31009]")
    round_ = match_offers(
        [waiting("web.instance-1", V1)],
        [small],
        definition=definition,
        placed=lambda _app: [],
        now=0.0,
        seed=1,
    )
    assert round_.launches == ()
    assert round_.unused_offers == (small.id,)
    assert round_.unplaced["/web"].reasons == {"InsufficientCpus": 1}
