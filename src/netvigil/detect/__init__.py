"""Detection: the streaming outage detector and the latency baseline it reads (pure, no I/O)."""

from netvigil.detect.baseline import (
    DEFAULT_THRESHOLD,
    AnomalyDetector,
    BaselineDetector,
    RobustLevel,
    TailQuantile,
)
from netvigil.detect.detector import Detector, DetectorSettings
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState

__all__ = [
    "DEFAULT_THRESHOLD",
    "AnomalyDetector",
    "BaselineDetector",
    "Detector",
    "DetectorSettings",
    "EventKind",
    "Incident",
    "IncidentEvent",
    "IncidentState",
    "RobustLevel",
    "TailQuantile",
]
