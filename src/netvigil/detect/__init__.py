"""Detection: streaming anomaly detectors over measurement series (pure, no I/O)."""

from netvigil.detect.art import ARTDetector, ARTHybridDetector, FuzzyART
from netvigil.detect.baseline import (
    DEFAULT_THRESHOLD,
    AnomalyDetector,
    BaselineDetector,
    RobustLevel,
    TailQuantile,
)
from netvigil.detect.changepoint import LevelShiftDetector
from netvigil.detect.contextual import ContextDetector
from netvigil.detect.detector import Detector, DetectorSettings
from netvigil.detect.hybrid import HybridDetector
from netvigil.detect.likelihood import AnomalyLikelihood, log_likelihood
from netvigil.detect.signal_drop import SignalDropDetector
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState

__all__ = [
    "DEFAULT_THRESHOLD",
    "ARTDetector",
    "ARTHybridDetector",
    "AnomalyDetector",
    "AnomalyLikelihood",
    "BaselineDetector",
    "ContextDetector",
    "Detector",
    "DetectorSettings",
    "EventKind",
    "FuzzyART",
    "HybridDetector",
    "Incident",
    "IncidentEvent",
    "IncidentState",
    "LevelShiftDetector",
    "RobustLevel",
    "SignalDropDetector",
    "TailQuantile",
    "log_likelihood",
]
