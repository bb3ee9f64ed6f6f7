"""A network's blocks as heard from anywhere: one vantage losing its uplink hears no block
and must not make the network look cut; a cut silences the blocks for every vantage."""

from __future__ import annotations

from netvigil.pipeline.block_signals import BLOCK_SOURCE, BlocksHeard
from netvigil.pipeline.signals import NetworkSignals
from netvigil.signal import SignalSample

T0 = 1_700_000_000.0
VANTAGES = ("tirana", "frankfurt", "amsterdam")


def rounds(
    sink: NetworkSignals, *, start: float = T0, until: float, dead: str = "", cut_at: float = 0.0
) -> None:
    """Every vantage's block round of "gov" every 10 s from `start`; the `dead` vantage
    hears nothing, and from `cut_at` (when set) nobody does."""
    t = start
    while t < until:
        for k, vantage in enumerate(VANTAGES):
            cut = bool(cut_at) and t >= cut_at
            value = 0.0 if cut or vantage == dead else 1.0
            sink.sample(SignalSample("gov", "blocks_up", t + k, value, f"{BLOCK_SOURCE}/{vantage}"))
        t += 10.0


def plane() -> NetworkSignals:
    return NetworkSignals(None, networks={"gov": "gov"}, block_fresh_s={"gov": 30.0})


def test_the_best_fresh_round_speaks_for_the_network() -> None:
    heard = BlocksHeard({"gov": 30.0})
    one = heard.combine(SignalSample("gov", "blocks_up", T0, 1.0, f"{BLOCK_SOURCE}/tirana"))
    two = heard.combine(SignalSample("gov", "blocks_up", T0 + 5, 0.0, f"{BLOCK_SOURCE}/frankfurt"))
    assert (one.value, two.value, two.source) == (1.0, 1.0, BLOCK_SOURCE)
    # tirana's round is older than 30 s now: only frankfurt's silence is left.
    late = heard.combine(
        SignalSample("gov", "blocks_up", T0 + 40, 0.0, f"{BLOCK_SOURCE}/frankfurt")
    )
    assert late.value == 0.0
    other = SignalSample("gov", "blocks_up", T0, 0.25, "ioda")
    assert heard.combine(other) is other


def test_a_vantage_losing_its_uplink_does_not_cut_the_network() -> None:
    sink = plane()
    rounds(sink, until=T0 + 600)
    rounds(sink, start=T0 + 600, until=T0 + 1200, dead="frankfurt")
    assert sink.alarms() == []
    assert sink.latest("gov")["blocks_up"][1] == 1.0


def test_a_cut_silences_every_vantage_and_alarms() -> None:
    sink = plane()
    rounds(sink, until=T0 + 1200, cut_at=T0 + 600)
    [alarm] = sink.alarms()
    assert alarm.entity == "gov" and T0 + 600 <= alarm.start <= T0 + 620
    assert sink.latest("gov")["blocks_up"][1] == 0.0
