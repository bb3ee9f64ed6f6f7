"""Probe tests."""
