"""The bounds every lab flood obeys, whatever a scenario asks for."""

from __future__ import annotations

__all__ = ["MAX_CONCURRENCY", "MAX_DURATION_S", "MAX_PPS", "MAX_REQUESTS", "MAX_SIZE"]

MAX_PPS = 20_000
"""Packets per second of one UDP flood."""
MAX_SIZE = 1400
"""Bytes of one flood datagram's payload."""
MAX_DURATION_S = 900.0
"""Seconds any flood (and any fault) may last."""
MAX_CONCURRENCY = 512
"""Requests one HTTP flood keeps in flight."""
MAX_REQUESTS = 1_000_000
"""Requests one HTTP flood sends in all."""
