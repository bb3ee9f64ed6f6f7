"""Block rounds as signals: each stored round of a `block` target becomes the
`blocks_up` sample of its network, whichever vantage probed it.

    blocks = BlockSignals(config.targets, sink)
    monitor = Monitor(..., sinks=[store, blocks, ...])     # a MeasurementSink

The sample is the round's `blocks_up / blocks_watched` (`probes.block.blocks_up_sample`),
at the round's time, under the target's network (else its own name); its source is
`block_probe/<vantage>`, so rounds of several vantages at one moment are all kept.
Measurements of other kinds, and rounds that watched no block, are passed over. The
targets are those given at start: a block target added by a reload is not turned into
signals until a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netvigil.model import Measurement
from netvigil.probes.block import BlockSpec
from netvigil.signal import SignalSample, SignalSink

__all__ = ["BLOCK_SOURCE", "BlockSignals", "BlocksHeard", "block_freshness", "watched_blocks"]

BLOCK_SOURCE = "block_probe"
"""The start of a block sample's source (then "/" and the vantage)."""

FRESH_ROUNDS = 3.0
"""A vantage's latest block round speaks for it this many of its target's intervals."""

DEFAULT_FRESH_S = 180.0
"""How long a round speaks for its vantage when its network's block interval is unknown."""


def watched_blocks(targets: Iterable[object]) -> dict[str, int]:
    """How many blocks the block targets watch, by network (what `blocks_up` is a share of)."""
    watched: dict[str, int] = {}
    for spec in targets:
        if isinstance(spec, BlockSpec):
            watched[spec.entity] = watched.get(spec.entity, 0) + len(spec.blocks())
    return watched


def block_freshness(targets: Iterable[object]) -> dict[str, float]:
    """Per network, how long a vantage's latest block round speaks for it
    (`FRESH_ROUNDS` times the longest interval of the network's block targets)."""
    fresh: dict[str, float] = {}
    for spec in targets:
        if isinstance(spec, BlockSpec):
            fresh[spec.entity] = max(fresh.get(spec.entity, 0.0), FRESH_ROUNDS * spec.interval_s)
    return fresh


class BlocksHeard:
    """A network's blocks as heard from anywhere: the vantages' rounds as one series.

    A block is up when any vantage hears it, so the share up is the best among the
    vantages' latest rounds still fresh (each speaks for its vantage `fresh[network]`
    seconds). A vantage that loses its own uplink hears no block at all; that says
    nothing of the network, and the others' rounds keep its share up. A cut of the
    network silences the blocks for every vantage, and each new round replaces its
    vantage's last one at once. Rounds of other sources pass through unchanged.
    """

    def __init__(self, fresh: Mapping[str, float] | None = None) -> None:
        self.fresh = dict(fresh or {})
        self._rounds: dict[str, dict[str, tuple[float, float]]] = {}

    def combine(self, sample: SignalSample) -> SignalSample:
        """The network's sample once `sample` (one vantage's round) is heard."""
        if not sample.source.startswith(BLOCK_SOURCE + "/"):
            return sample
        rounds = self._rounds.setdefault(sample.entity, {})
        rounds[sample.source] = (sample.t, sample.value)
        since = sample.t - self.fresh.get(sample.entity, DEFAULT_FRESH_S)
        for source, (t, _) in list(rounds.items()):
            if t < since:
                del rounds[source]
        best = max(value for _, value in rounds.values())
        return SignalSample(sample.entity, sample.signal, sample.t, best, BLOCK_SOURCE)


class BlockSignals:
    """A MeasurementSink turning block rounds into `blocks_up` samples for `sink`."""

    def __init__(self, targets: Iterable[object], sink: SignalSink) -> None:
        self.entities = {t.name: t.entity for t in targets if isinstance(t, BlockSpec)}
        self.sink = sink

    def submit(self, m: Measurement) -> None:
        """Hand on the `blocks_up` sample of `m` when it is a round of a block target."""
        entity = self.entities.get(m.target)
        if entity is None or m.kind != "block":
            return
        watched = m.detail.get("blocks_watched")
        up = m.detail.get("blocks_up")
        if not isinstance(watched, int) or not isinstance(up, int) or watched <= 0:
            return
        source = f"{BLOCK_SOURCE}/{m.vantage}"
        self.sink.sample(SignalSample(entity, "blocks_up", m.ts, up / watched, source))
