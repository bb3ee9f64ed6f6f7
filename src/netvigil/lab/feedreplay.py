"""Replaying a lab run with its network plane: the route collector feed it recorded and
its block rounds, judged by the code `netvigil run` judges them with.

    feed = load_feed(run_dir / "rtbh.feed.jsonl")          # netvigil.lab.feedrecord's file
    log = detect_with_plane(measurements, feed, config, started=t0)
    reported = log.reported(incidents)

In `netvigil run` the RIS Live client hands each element to `BgpFeed`'s
`PrefixVisibility`, whose samples and events reach, through a `SignalFanout`, the
API's `RecentSignals` and `NetworkSignals` (`pipeline/signals.py`: the network plane
attribution reads, and the incidents of a network whose signals alarm); block rounds
become `blocks_up` samples of their network; measurements go to `LiveDetection`, whose
timer advances the `Detector` every second. `PlaneReplay` builds the same objects and
plays the recording on its own clock: every feed message at the time it was received,
every measurement when its probe ended, and once a second of that clock the ticks of
the feed (with its samples of a quiet network every `resample_s`), the detector and the
network plane. So an incident is judged with what
`netvigil run` would have known of the network plane at that moment, no more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from netvigil.bgp.feed import feed_visibility
from netvigil.bgp.memory import RecentSignals
from netvigil.bgp.ris_messages import decode_ris_message
from netvigil.bgp.visibility import PrefixVisibility
from netvigil.config.model import Config
from netvigil.detect.detector import DetectorSettings
from netvigil.errors import LabError
from netvigil.incident import IncidentEvent
from netvigil.model import Measurement
from netvigil.pipeline.block_signals import BlockSignals, watched_blocks
from netvigil.pipeline.detection import LiveDetection
from netvigil.pipeline.signals import NetworkSignals, build_signal_sink
from netvigil.signal import SignalEvent, SignalEventKind, SignalFanout
from netvigil.store.base import Store

__all__ = [
    "FeedLine",
    "PlaneReplay",
    "load_feed",
]

TICK_S = 1.0
"""How often `netvigil run` advances its detector, flushes the feed and ticks the plane."""


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One line of a recorded feed: a server message, or the connection going up or down."""

    received: float
    message: dict[str, Any] | None = None
    state: str = ""
    """`connected` or `down` for a line about the connection ("" for a message)."""
    error: str = ""


def load_feed(path: Path) -> list[FeedLine]:
    """Read a file `netvigil.lab.feedrecord` wrote, in the order it was received.

    Raises LabError when it cannot be read or a line is not one of its lines.
    """
    lines: list[FeedLine] = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"cannot read the recorded feed {path}: {exc}") from exc
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            message = row.get("message")
            lines.append(
                FeedLine(
                    received=float(row["received"]),
                    message=message if isinstance(message, dict) else None,
                    state=str(row.get("state", "")),
                    error=str(row.get("error", "")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LabError(f"{path}:{number}: not a recorded feed line: {exc}") from exc
    lines.sort(key=lambda line: line.received)
    return lines


class _Unstored:
    """Where a replay's incident events are "stored": nowhere (the replay keeps them)."""

    def submit_incident_event(self, event: IncidentEvent) -> None:
        """Take one event and drop it."""


class PlaneReplay:
    """`netvigil run`'s detection and network plane, driven by a recording's clock.

    `on_event` receives every incident event (the detector's and the network plane's)
    in the order `netvigil run` would emit them.
    """

    def __init__(
        self,
        config: Config,
        on_event: Callable[[IncidentEvent], object],
        *,
        lateness_s: float = 30.0,
        settings: DetectorSettings | None = None,
    ) -> None:
        self.config = config
        self.now = float("-inf")
        self.detection = LiveDetection(
            config,
            cast(Store, _Unstored()),
            sinks=[_Sink(on_event)],
            lateness_s=lateness_s,
            settings=settings,
            clock=lambda: self.now,
        )
        blocks = watched_blocks(config.targets)
        self.plane: NetworkSignals = build_signal_sink(config, self.detection, blocks=blocks)
        self.recent = RecentSignals()
        self.sink = SignalFanout([self.recent, self.plane])
        self.block_rounds = BlockSignals(config.targets, self.sink)
        feeds = [s for s in config.bgp if s.kind == "ris_live"]
        self.feed_name = feeds[0].label if feeds else "ris_live"
        self.visibility: PrefixVisibility = feed_visibility(config.bgp, config.networks, self.sink)
        self._next_tick = float("-inf")

    def play(self, measurements: Iterable[Measurement], feed: Sequence[FeedLine]) -> None:
        """Play the measurements and the feed in the order they reached netvigil, then
        process whatever is still buffered."""
        timeline: list[tuple[float, int, Measurement | FeedLine]] = [
            (line.received, 0, line) for line in feed
        ]
        timeline += [(m.ts + (m.total_s or 0.0), 1, m) for m in measurements]
        timeline.sort(key=lambda item: (item[0], item[1]))
        for at, _, item in timeline:
            self._tick_until(at)
            self.now = max(self.now, at)
            if isinstance(item, FeedLine):
                self._feed_line(item)
            else:
                self._measurement(item)
        self._tick_until(self.now + TICK_S)
        with self.detection.state.lock:
            events = self.detection.detector.flush()
        self.detection.publish(events)

    def _tick_until(self, at: float) -> None:
        """The ticks of `netvigil run` due by `at`: feed, detector, network plane."""
        if self._next_tick == float("-inf"):
            self._next_tick = at
        while self._next_tick <= at:
            t = self._next_tick
            self.now = max(self.now, t)
            self.visibility.flush(max(t, self.visibility.latest))
            self.detection.tick()
            self.plane.tick(t)
            self._next_tick = t + TICK_S

    def _feed_line(self, line: FeedLine) -> None:
        if line.message is None:
            self._connection(line)
            return
        try:
            message = decode_ris_message(json.dumps(line.message))
        except ValueError:
            return  # the client skips what it cannot read, and so does the replay
        for item in message.items:
            self.visibility.update(item)

    def _connection(self, line: FeedLine) -> None:
        """A connection's up or down, as `BgpFeed` tells it: one event per watched network."""
        if line.state not in ("connected", "down"):
            return
        kind: SignalEventKind = "feed_up" if line.state == "connected" else "feed_down"
        words = "connected" if kind == "feed_up" else f"down: {line.error}"
        detail = f"{self.feed_name} (ris_live) {words}"
        for network in self.visibility.networks:
            self.sink.event(SignalEvent(network, kind, line.received, detail=detail,
                                        source="ris_live"))  # fmt: skip

    def _measurement(self, m: Measurement) -> None:
        self.detection.submit(m)
        self.block_rounds.submit(m)


class _Sink:
    """An event sink calling a function (LiveDetection's sinks take `submit`)."""

    def __init__(self, on_event: Callable[[IncidentEvent], object]) -> None:
        self.on_event = on_event

    def submit(self, event: IncidentEvent) -> object:
        return self.on_event(event)
