"""The client command groups, one module each (``berth app ...`` is ``apps``)."""
