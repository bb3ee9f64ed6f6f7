"""Remote agents: probe from another vantage, spool locally, ship to the server."""

from __future__ import annotations

from netvigil.agent.ship import Shipper, ShipStats, ingest_url
from netvigil.agent.spool import RejectedEntry, Spool, SpoolStats
from netvigil.agent.tokens import hash_token, new_token

__all__ = [
    "RejectedEntry",
    "ShipStats",
    "Shipper",
    "Spool",
    "SpoolStats",
    "hash_token",
    "ingest_url",
    "new_token",
]
