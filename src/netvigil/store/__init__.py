"""Where measurements and their per-minute rollups live (see `Store`)."""

from netvigil.store.base import MeasurementQuery, Rollup, RollupQuery, Store
from netvigil.store.sqlite import SQLiteStore

__all__ = ["MeasurementQuery", "Rollup", "RollupQuery", "SQLiteStore", "Store"]
