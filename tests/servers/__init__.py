"""Loopback servers for tests: HTTP(S), scripted TCP and DNS."""
