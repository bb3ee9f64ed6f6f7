"""The web server: JSON API (ingest, dashboard, admin), status page, metrics, one error shape."""

from __future__ import annotations

from netvigil.web.app import API_PREFIX, create_app
from netvigil.web.ingest import IngestLimits
from netvigil.web.server import WebServer, bind_socket
from netvigil.web.state import LiveState
from netvigil.web.tokens import create_admin_token

__all__ = [
    "API_PREFIX",
    "IngestLimits",
    "LiveState",
    "WebServer",
    "bind_socket",
    "create_admin_token",
    "create_app",
]
