"""The gateway: the cluster's single HTTP entry point (DC/OS Admin Router's role).

It serves the web UI and the documents DC/OS tooling asks for, and forwards
``/marathon/`` and ``/service/marathon/`` to marathon, ``/mesos/`` to the master and
``/agent/<id>/`` (alias ``/slave/<id>/``) to an agent, streaming bodies both ways.

Modules: ``routes`` (pure: path → what to do), ``headers`` (pure: proxy header
rewriting), ``metadata`` (the documents answered locally, the cluster id file),
``agents`` (agent addresses from the master, cached), ``proxy`` (forwarding one request
over the shared aiohttp session), ``app`` (the ASGI application), ``service``
(``berth gateway``). It knows nothing of apps, tasks or offers: it only routes.
"""
