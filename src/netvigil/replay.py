"""Replay: run recorded measurements through the live detector, faster than real time.

The same `Detector` code as `netvigil run`; time comes only from the measurements'
timestamps, so a replay is deterministic and independent of the input's order within
`lateness_s`.
"""

from __future__ import annotations

from collections.abc import Iterable

from netvigil.config.model import Config
from netvigil.detect.detector import Detector, DetectorSettings
from netvigil.incident import Incident
from netvigil.model import Measurement

__all__ = ["replay"]


def replay(
    measurements: Iterable[Measurement],
    config: Config,
    *,
    lateness_s: float = 30.0,
    settings: DetectorSettings | None = None,
) -> list[Incident]:
    """Detect incidents in `measurements` (any order within `lateness_s`); oldest first."""
    detector = Detector(config, lateness_s=lateness_s, settings=settings)
    for m in measurements:
        detector.feed(m)
    detector.flush()
    return detector.incidents()
