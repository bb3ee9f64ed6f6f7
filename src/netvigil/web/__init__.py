"""The web server: JSON API (agent ingest, later the dashboard's), metrics, one error shape."""

from __future__ import annotations

from netvigil.web.app import API_PREFIX, create_app
from netvigil.web.ingest import IngestLimits
from netvigil.web.server import WebServer, bind_socket

__all__ = ["API_PREFIX", "IngestLimits", "WebServer", "bind_socket", "create_app"]
