"""Benchmarks: scripts run as ``python bench/<name>.py`` from the repository root.

A package only so that tests can import ``bench.detectors``.
"""
