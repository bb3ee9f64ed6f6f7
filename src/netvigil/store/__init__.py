"""Where measurements, their per-minute rollups and incidents live (see `Store`), and the
admin API's tables beside them (see `AdminStore`)."""

from netvigil.store.base import (
    AdminStore,
    IncidentQuery,
    MeasurementQuery,
    Rollup,
    RollupQuery,
    Store,
)
from netvigil.store.sqlite import SQLiteStore

__all__ = [
    "AdminStore",
    "IncidentQuery",
    "MeasurementQuery",
    "Rollup",
    "RollupQuery",
    "SQLiteStore",
    "Store",
]
