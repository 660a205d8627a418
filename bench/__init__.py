"""Berth's benchmarks: ``python -m bench [name ...]`` (see bench/README.md).

Results go to docs/benchmarks.md. Benchmarks measure against real processes on loopback;
tests never assert on timing.
"""
