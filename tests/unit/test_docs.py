"""The documentation keeps up with the code: every endpoint Berth serves is in the API
compatibility table, and the docs the README links to exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from berth.master.master import Master, MasterConfig
from berth.master.service import build_app

ROOT = Path(__file__).resolve().parents[2]
COMPAT = (ROOT / "docs" / "api-compatibility.md").read_text()

# Marathon's endpoints (reference section 1), as the table names them.
MARATHON_ENDPOINTS = [
    "GET /v2/apps",
    "POST /v2/apps",
    "PUT /v2/apps",
    "PATCH /v2/apps",
    "GET /v2/apps/{id}",
    "GET /v2/apps/{group}/*",
    "PUT /v2/apps/{id}",
    "PATCH /v2/apps/{id}",
    "DELETE /v2/apps/{id}",
    "POST /v2/apps/{id}/restart",
    "GET /v2/apps/{id}/tasks",
    "DELETE /v2/apps/{id}/tasks",
    "DELETE /v2/apps/{id}/tasks/{taskId}",
    "GET /v2/apps/{id}/versions",
    "GET /v2/apps/{id}/versions/{version}",
    "GET /v2/groups",
    "POST /v2/groups",
    "PUT /v2/groups/{id}",
    "PATCH /v2/groups/{id}",
    "DELETE /v2/groups/{id}",
    "GET /v2/tasks",
    "POST /v2/tasks/delete",
    "GET /v2/deployments",
    "DELETE /v2/deployments/{id}",
    "GET /v2/queue",
    "DELETE /v2/queue/{id}/delay",
    "GET /v2/events",
    "GET /v2/info",
    "GET /v2/leader",
    "DELETE /v2/leader",
    "GET /ping",
    "GET /metrics",
    "/v2/pods",
]


@pytest.mark.parametrize("endpoint", MARATHON_ENDPOINTS)
def test_marathon_endpoint_is_in_the_compatibility_table(endpoint: str) -> None:
    assert f"`{endpoint}" in COMPAT, f"docs/api-compatibility.md does not mention {endpoint}"


def _paths(routes: list[Any]) -> list[str]:
    found = []
    for route in routes:
        if hasattr(route, "path"):
            found.append(route.path)
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner:
            found.extend(_paths(inner))
    return found


class _NoStore:
    pass


def test_every_master_route_is_in_the_compatibility_table() -> None:
    app, _ = build_app(Master(MasterConfig(), _NoStore()))  # type: ignore[arg-type]
    paths = [p for p in _paths(list(app.router.routes)) if not p.startswith("/api/berth/")]
    assert paths
    missing = [p for p in paths if f"{p}`" not in COMPAT]
    assert not missing, f"routes missing from docs/api-compatibility.md: {missing}"


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if target.startswith("http"):
            continue
        assert (ROOT / target).exists(), f"README links to missing {target}"
