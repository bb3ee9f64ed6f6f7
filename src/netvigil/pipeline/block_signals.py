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

from collections.abc import Iterable

from netvigil.model import Measurement
from netvigil.probes.block import BlockSpec
from netvigil.signal import SignalSample, SignalSink

__all__ = ["BLOCK_SOURCE", "BlockSignals", "watched_blocks"]

BLOCK_SOURCE = "block_probe"
"""The start of a block sample's source (then "/" and the vantage)."""


def watched_blocks(targets: Iterable[object]) -> dict[str, int]:
    """How many blocks the block targets watch, by network (what `blocks_up` is a share of)."""
    watched: dict[str, int] = {}
    for spec in targets:
        if isinstance(spec, BlockSpec):
            watched[spec.entity] = watched.get(spec.entity, 0) + len(spec.blocks())
    return watched


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
