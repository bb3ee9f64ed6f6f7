"""A vantage that stops reporting is silent: its last results stop counting, the outage
it alone still held open resolves, and the silence itself is an incident."""

from __future__ import annotations

import random

from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.incident import EventKind

from .streams import GOV, INTERVAL, ONSET, SILENT, Probe, World, healthy, target_name

GOV_TARGETS = {target_name(s) for s in GOV}
QUIET_AT = ONSET + 120.0
BACK_AT = ONSET + 300.0


def us_falls_silent(ts: float, vantage: str, target: str, rng: random.Random) -> Probe | None:
    """The gov network is cut from ONSET; de sees it back at ONSET+120, when us stops
    reporting altogether (until BACK_AT)."""
    if vantage == "us" and QUIET_AT <= ts < BACK_AT:
        return None
    if target in GOV_TARGETS and ONSET <= ts < QUIET_AT:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_a_silent_vantage_neither_holds_an_outage_open_nor_goes_unsaid() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    events = detector.feed_many(world.stream(us_falls_silent, end=ONSET + 600.0))
    events += detector.flush()

    outage = next(i for i in detector.incidents() if i.vantage is None)
    assert set(outage.services) == set(GOV)
    assert outage.end is not None
    # Resolved on the evidence of the vantages still reporting, not held open by the
    # last results of the silent one (stale only after 5 intervals, resolve hold 5 more).
    resolved = next(
        e for e in events if e.kind is EventKind.RESOLVED and e.incident.id == outage.id
    )
    assert resolved.ts < QUIET_AT + 5 * INTERVAL + 5 * INTERVAL

    [silence] = [i for i in detector.incidents() if i.vantage == "us"]
    assert silence.cause is Cause.VANTAGE_PROBLEM
    assert any("no result from us" in e.statement for e in silence.evidence)
    assert silence.start <= QUIET_AT
    opened = next(e for e in events if e.incident.id == silence.id)
    assert QUIET_AT + 3 * INTERVAL <= opened.ts <= QUIET_AT + 4 * INTERVAL + 5
    assert silence.end is not None and silence.end >= BACK_AT  # it spoke again
    assert not silence.services  # the silence names no service as down
