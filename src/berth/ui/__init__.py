"""Berth's web UI: static files, no build step.

The UI is plain ES modules under ``static/``, served as they are by the gateway (at ``/``,
the main way) and by marathon (at ``/ui/``). It finds the cluster's APIs by reading
``berth-ui.json`` next to its page (else at ``/berth-ui.json``)::

    {"marathon": "/service/marathon", "mesos": "/mesos", "agent": "/agent/{id}"}  gateway
    {"marathon": "..", "mesos": null, "agent": null}                            marathon

Relative bases are resolved against the URL of the ``berth-ui.json`` that gave them (so
marathon's ``..`` works both at ``/ui/`` and behind a prefix, ``/service/marathon/ui/``).

With no master or agent base (marathon alone) the Nodes page and task logs say they need
the gateway. It talks only to public APIs: Marathon ``/v2`` (with ``/v2/events`` for live
updates), the master's ``/master/state`` and the agents' ``/state`` and ``/files/read``.

Layout of ``static/js``::

    app.js        entry: config, live store, hash routing (#/overview, #/services[/<id>],
                  #/create, #/edit/<id>, #/deployments, #/nodes)
    api.js        fetch wrappers, ApiError (with Marathon's details[{path, errors}])
    live.js       the store: apps, queue, deployments; SSE -> debounced refetch; master poll
    status.js     pure rules: an app's status, task tones, offers turned down
    diff.js       a small line diff (LCS) and key-sorted JSON for version comparisons
    dialog.js     confirm dialogs on <dialog> (inert background, Esc, Tab wraps)
    dom.js        h() element builder, formatting, bars, toasts
    views/        one module per page (services list is a virtual list over a <table>)

Performance marks for ``bench/ui_services.py``: ``services-rendered`` (first rows shown)
and the ``services-filter`` measure (filter input -> list redrawn).
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR: Path = Path(__file__).parent / "static"
"""The directory holding ``index.html`` and the modules it loads."""

__all__ = ["STATIC_DIR"]
