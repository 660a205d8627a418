"""Shared vocabulary of every Berth service.

Owns: resources, ids, task states, the RecordIO codec, JSON helpers, errors, logging,
clocks. Must not know about masters, agents or marathon.
"""
