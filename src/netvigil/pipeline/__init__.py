"""The run-time pipeline: live detection over the measurements `netvigil run` takes, the
tee that brings agents' batches to it, and the current state it keeps for every reader.

    current = CurrentState(config)
    detection = LiveDetection(config, store, state=current, sinks=[...])
    ingested = TeeStore(store, [detection, web_state])
"""

from netvigil.pipeline.detection import DetectionStats, EventSink, LiveDetection, MeasurementSink
from netvigil.pipeline.tee import TeeStore

__all__ = ["DetectionStats", "EventSink", "LiveDetection", "MeasurementSink", "TeeStore"]
