"""berth marathon: a Marathon-compatible orchestrator, one framework on Berth's master.

It owns app and group definitions (``models``: parse, normalize legacy forms, validate,
render in Marathon 1.10 form), the ``/v2`` REST API, the pure deployment planner, the
deployer that executes plans, placement, the instance tracker, the launch queue with
backoff, and the event stream. It knows the master only through the Mesos v1 scheduler
API, exactly as any other framework does. The wire contract is
``shared/reference/marathon.md``.
"""
