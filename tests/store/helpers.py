"""Shared test data for the store tests."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase
from netvigil.store import Store

StoreFactory = Callable[..., Awaitable[Store]]
"""`await factory(location, **options)`: open the store kept under directory `location`.

Opening the same location again reopens the same data. Options every backend takes:
`retention_days` and `now` (the clock used for periodic pruning).
"""

_seq = itertools.count()

T0 = 1_699_999_980.0
"""A round minute (epoch seconds) the tests build their timelines from."""


def make_measurement(
    ts: float,
    *,
    target: str = "https://a.example/",
    vantage: str = "v1",
    ok: bool = True,
    total: float | None = 0.1,
    outcome: Outcome | None = None,
    id: str | None = None,
) -> Measurement:
    """A measurement with a fresh time-sorted id; a failure when ok is False."""
    timings = {"connect": 0.01} if total is None else {"connect": 0.01, "total": total}
    return Measurement(
        id=id or new_measurement_id(ts) + f"{next(_seq):06d}",
        ts=ts,
        vantage=vantage,
        target=target,
        kind="http",
        ok=ok,
        outcome=outcome or (Outcome.OK if ok else Outcome.TCP_TIMEOUT),
        phase=None if ok else Phase.CONNECT,
        timings=timings,
        detail={"status": 200} if ok else {"error": "timed out", "nested": [1, "x", None]},
        address="192.0.2.10",
    )
