"""IODA exports through the product's signal detector: read, detect, score.

An IODA CSV export has one row per time bin: a `timestamp` (epoch seconds), one column
per signal (`gtr`, `gtr-norm`, `merit-nt`, `bgp`, `ping-slash24`, ...; empty where IODA
has no value), text columns (`datetime`, ...) and, in labelled sets, a `LABEL` column
(1 in the bins of a known outage). `read_ioda_csv` turns every numeric column into
`SignalSample`s of one entity; `detect_alarms` runs them through `SignalWatch` (the same
detector `netvigil run` feeds live) bin by bin; `score_alarms` compares the alarms with
the labels: whether each labelled outage was detected in its first bin, the delay, and
the false alarms (alarms overlapping no labelled outage).

    series = read_ioda_csv(Path("ioda_country_IQ_iraq.csv"), entity="IQ")
    alarms = detect_alarms(series)
    result = score_alarms(series, alarms)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from netvigil.detect.signals import NetworkDownAlarm, SignalDropSettings, SignalWatch
from netvigil.errors import NetvigilError
from netvigil.signal import SignalSample

__all__ = [
    "IodaSeries",
    "LabelledEvent",
    "Score",
    "detect_alarms",
    "read_ioda_csv",
    "render_score",
    "score_alarms",
]

_NOT_SIGNALS = frozenset({"timestamp", "LABEL", "label"})


@dataclass(slots=True)
class IodaSeries:
    """One entity's signals from an IODA export: bins in time order."""

    entity: str
    signals: list[str]
    timestamps: list[float]
    values: list[dict[str, float | None]]
    labels: list[int] | None = None
    """Per bin, the `LABEL` column (None when the file has none)."""

    @property
    def bin_s(self) -> float:
        """The bin width (the most common spacing of timestamps)."""
        gaps = [b - a for a, b in zip(self.timestamps, self.timestamps[1:], strict=False)]
        return max(set(gaps), key=gaps.count) if gaps else 300.0

    def samples(self) -> Iterator[SignalSample]:
        """Every value as a `SignalSample` (source "ioda"), bin by bin."""
        for t, row in zip(self.timestamps, self.values, strict=True):
            for name, value in row.items():
                if value is not None:
                    yield SignalSample(self.entity, name, t, value, source="ioda")


def _number(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _numeric(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def read_ioda_csv(path: Path, *, entity: str | None = None) -> IodaSeries:
    """Read an IODA CSV export; every column whose values are all numbers (or empty) is a
    signal. `entity` defaults to the country code in a file named like
    `ioda_country_IQ_iraq.csv`, else the file's stem.

    Raises NetvigilError naming the file (and line) when it cannot be read or parsed.
    """
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise NetvigilError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not rows or "timestamp" not in rows[0]:
        raise NetvigilError(f"{path}: not an IODA export (no timestamp column)")
    columns = [c for c in rows[0] if c not in _NOT_SIGNALS]
    signals = [c for c in columns if all(_numeric(r[c] or "") for r in rows)]
    timestamps: list[float] = []
    values: list[dict[str, float | None]] = []
    labels: list[int] | None = [] if "LABEL" in rows[0] else None
    for line, row in enumerate(rows, start=2):
        try:
            timestamps.append(float(row["timestamp"]))
            values.append({s: _number(row[s] or "") for s in signals})
            if labels is not None:
                labels.append(int(float(row["LABEL"] or 0)))
        except ValueError as exc:
            raise NetvigilError(f"{path}:{line}: {exc}") from exc
    order = sorted(range(len(rows)), key=timestamps.__getitem__)
    return IodaSeries(
        entity=entity or _entity_of(path),
        signals=signals,
        timestamps=[timestamps[i] for i in order],
        values=[values[i] for i in order],
        labels=[labels[i] for i in order] if labels is not None else None,
    )


def _entity_of(path: Path) -> str:
    parts = path.stem.split("_")
    if len(parts) >= 3 and parts[0] == "ioda":
        return parts[2]
    return path.stem


def detect_alarms(
    series: IodaSeries, settings: SignalDropSettings | None = None
) -> list[NetworkDownAlarm]:
    """Run the signal detector over the series bin by bin; every alarm, oldest first (one
    still open at the end has `end` None)."""
    watch = SignalWatch(settings)
    alarms: list[NetworkDownAlarm] = []
    for t, row in zip(series.timestamps, series.values, strict=True):
        for change in watch.update(series.entity, t, row):
            if change.kind == "closed":
                alarms.append(change.alarm)
    alarms.extend(watch.open_alarms())
    return sorted(alarms, key=lambda a: a.start)


@dataclass(frozen=True, slots=True)
class LabelledEvent:
    """One labelled outage (bins `first`..`last`) and how the alarms met it."""

    first: int
    last: int
    start: float
    detected_bin: int | None
    """The first bin of the event that was alarmed, or None."""

    @property
    def delay_bins(self) -> int | None:
        """Bins from the labelled start to the first alarmed bin."""
        return None if self.detected_bin is None else self.detected_bin - self.first


@dataclass(slots=True)
class Score:
    """Alarms against labels: the events, and the alarms overlapping none of them."""

    events: list[LabelledEvent] = field(default_factory=list)
    false_alarms: list[NetworkDownAlarm] = field(default_factory=list)

    @property
    def detected(self) -> int:
        """Events alarmed in at least one of their bins."""
        return sum(e.detected_bin is not None for e in self.events)

    @property
    def in_first_bin(self) -> int:
        """Events alarmed in their first bin."""
        return sum(e.delay_bins == 0 for e in self.events)


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Runs of consecutive true flags as (first, last) indices."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


def score_alarms(series: IodaSeries, alarms: Sequence[NetworkDownAlarm]) -> Score:
    """Compare alarms with the `LABEL` column. A bin is alarmed when an alarm covers it
    (from its start to before its end); an alarm is false when it covers no bin of any
    labelled event.

    Raises NetvigilError when the series has no labels.
    """
    if series.labels is None:
        raise NetvigilError("the file has no LABEL column to score against")
    ts = series.timestamps
    alarmed = [any(a.start <= t and (a.end is None or t < a.end) for a in alarms) for t in ts]
    runs = _runs([lab == 1 for lab in series.labels])
    result = Score()
    for lo, hi in runs:
        hit = next((i for i in range(lo, hi + 1) if alarmed[i]), None)
        result.events.append(LabelledEvent(lo, hi, ts[lo], hit))
    for alarm in alarms:
        end = alarm.end if alarm.end is not None else math.inf
        if not any(alarm.start <= ts[hi] and end > ts[lo] for lo, hi in runs):
            result.false_alarms.append(alarm)
    return result


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def render_score(series: IodaSeries, score: Score, *, tuned_on: int | None = None) -> list[str]:
    """The score as text lines: one row per labelled event, then the totals; with
    `tuned_on`, the first `tuned_on` events are marked as the tuning set and the rest
    as held back, and the totals are given for each part."""
    n = len(score.events)
    tuned = n if tuned_on is None else min(tuned_on, n)
    head = f"{'event (UTC)':<18}{'bins':>6}{'detected':>10}{'delay bins':>12}"
    lines = [head + (f"{'set':>12}" if tuned_on is not None else "")]
    for i, e in enumerate(score.events):
        part = "tuning" if i < tuned else "held back"
        found = "yes" if e.detected_bin is not None else "no"
        delay = "-" if e.delay_bins is None else str(e.delay_bins)
        lines.append(
            f"{_when(e.start):<18}{e.last - e.first + 1:>6}{found:>10}{delay:>12}"
            + (f"{part:>12}" if tuned_on is not None else "")
        )
    parts = [("all", score.events)]
    if tuned_on is not None:
        parts = [("tuning", score.events[:tuned]), ("held back", score.events[tuned:])]
    for name, events in parts:
        first = sum(e.delay_bins == 0 for e in events)
        hits = sum(e.detected_bin is not None for e in events)
        delays = sorted(e.delay_bins for e in events if e.delay_bins is not None)
        worst = str(delays[-1]) if delays else "-"
        lines.append(
            f"{name}: detected {hits}/{len(events)}, in the first bin {first}/{len(events)},"
            f" max delay {worst} bins"
        )
    days = len(series.timestamps) * series.bin_s / 86_400
    lines.append(
        f"false alarms: {len(score.false_alarms)} ({len(score.false_alarms) / days:.2f} per day"
        f" over {days:.1f} days)"
    )
    for alarm in score.false_alarms:
        lines.append(f"  false alarm from {_when(alarm.start)}")
    return lines
