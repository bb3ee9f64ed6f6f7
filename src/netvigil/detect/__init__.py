"""Detection: streaming anomaly detectors over measurement series (pure, no I/O)."""

from netvigil.detect.baseline import (
    DEFAULT_THRESHOLD,
    AnomalyDetector,
    BaselineDetector,
    RobustLevel,
    TailQuantile,
)
from netvigil.detect.signal_drop import SignalDropDetector

__all__ = [
    "DEFAULT_THRESHOLD",
    "AnomalyDetector",
    "BaselineDetector",
    "RobustLevel",
    "SignalDropDetector",
    "TailQuantile",
]
