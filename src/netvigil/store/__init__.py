"""Where measurements, their per-minute rollups and incidents live (see `Store`)."""

from netvigil.store.base import IncidentQuery, MeasurementQuery, Rollup, RollupQuery, Store
from netvigil.store.sqlite import SQLiteStore

__all__ = ["IncidentQuery", "MeasurementQuery", "Rollup", "RollupQuery", "SQLiteStore", "Store"]
