"""The ``berth`` command: services (master, agent, up) and, later, the client CLI."""
