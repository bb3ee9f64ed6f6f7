"""Per-target Prometheus series in blackbox_exporter's conventions, from the newest results.

`ProbeMetrics` is a measurement sink: `submit(m)` keeps the newest measurement of each
(target, vantage) pair (this vantage's probes and agents' results arriving through the
ingest API alike) in a compact table, one row per pair, as numbers. At scrape time
`render()` writes the table in the Prometheus text format:

    netvigil_probe_success{target,service,network,vantage,kind}            1 or 0
    netvigil_probe_duration_seconds{target,service,network,vantage,kind,phase}
    netvigil_probe_http_status_code{...}             http: final status, 0 without a response
    netvigil_probe_ssl_earliest_cert_expiry{...}     tls: the certificate's notAfter (epoch s)
    netvigil_probe_dns_answer_rrs{...}               dns: answer records (at most 20 listed)
    netvigil_probe_last_timestamp_seconds{...}       when the newest result's probe started
    netvigil_probe_series                            rows held (label sets per series)
    netvigil_probe_series_limit                      the cap on rows
    netvigil_probe_series_dropped_total              results dropped: a new pair beyond the cap

Cardinality is bounded: at most one row per (target, vantage) and one duration sample per
phase; a result for a new pair when `max_series` rows are held is dropped and counted.
A row whose newest result is older than `max_age_s` (a removed target, a silent agent)
is forgotten at the next scrape. Both come from the config's `[metrics]` section
(`from_config`; 50,000 rows and an hour by default).

The label text of a row is escaped once, when the row is made; a row's lines are
formatted (as bytes) at the first scrape after it changed and reused until it changes
again, so a scrape formats only what changed and joins the rest: 30,000 unchanged rows
render in tens of milliseconds and 30,000 changed ones in under 200 ms, where
prometheus_client families or Gauges for them take seconds (docs/performance.md,
"Metrics"). `collect()` yields the same series as families, for a
caller that registers this object in a `CollectorRegistry` of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from math import isfinite
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from netvigil.model import Measurement

if TYPE_CHECKING:
    from netvigil.config import Config

__all__ = ["LABELS", "PHASES", "ProbeMetrics", "TargetLabels", "target_labels"]

PHASES: tuple[str, ...] = ("resolve", "connect", "tls", "ttfb", "rtt", "total")
"""The timings exposed as `phase` values, in the order they happen."""

DEFAULT_MAX_SERIES = 50_000
DEFAULT_MAX_AGE_S = 3600.0

TargetLabels = tuple[str, str]
"""A target's (service, network) label values; empty when it has none."""

LABELS: tuple[str, ...] = ("target", "service", "network", "vantage", "kind")

FAMILIES: tuple[str, ...] = (
    "netvigil_probe_success",
    "netvigil_probe_duration_seconds",
    "netvigil_probe_http_status_code",
    "netvigil_probe_ssl_earliest_cert_expiry",
    "netvigil_probe_dns_answer_rrs",
    "netvigil_probe_last_timestamp_seconds",
)
"""The per-target families, in the order they are written."""

_HELP: dict[str, tuple[str, str]] = {
    "netvigil_probe_success": (
        "gauge",
        "Whether the newest probe of the target from the vantage succeeded (1) or not (0).",
    ),
    "netvigil_probe_duration_seconds": (
        "gauge",
        "Duration of each phase of the newest probe (resolve, connect, tls, ttfb, rtt, total).",
    ),
    "netvigil_probe_http_status_code": (
        "gauge",
        "HTTP status of the newest HTTP probe's final response; 0 when none arrived.",
    ),
    "netvigil_probe_ssl_earliest_cert_expiry": (
        "gauge",
        "notAfter of the certificate the newest TLS probe saw, in seconds since the epoch.",
    ),
    "netvigil_probe_dns_answer_rrs": (
        "gauge",
        "Answer records of the newest DNS probe (at most 20 are listed).",
    ),
    "netvigil_probe_last_timestamp_seconds": (
        "gauge",
        "When the newest probe of the target from the vantage started, in seconds since the epoch.",
    ),
}


def target_labels(config: Config) -> dict[str, TargetLabels]:
    """(service, network) of each configured target, by target name."""
    networks = {s.name: s.network or "" for s in config.services}
    return {
        t.name: (t.service or "", networks.get(t.service, "") if t.service else "")
        for t in config.targets
    }


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _epoch(iso: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time with its offset; None if it is not one."""
    if not isinstance(iso, str):
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


_DURATION_TEMPLATES: dict[tuple[str, ...], bytes] = {}
"""Per set of phases present (in PHASES order): the duration lines of a row with `%s`
for the row's labels and `%a` for each value."""


_PHASE_SETS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _phase_set(present: tuple[str, ...]) -> tuple[str, ...]:
    """`present` as the one shared tuple of that set of phases, its template made."""
    held = _PHASE_SETS.get(present)
    if held is not None:
        return held
    _DURATION_TEMPLATES[present] = b"".join(
        [b"netvigil_probe_duration_seconds%s" + p.encode() + b'"} %a\n' for p in present]
    )
    _PHASE_SETS[present] = present
    return present


class _Row:
    """The newest result of one (target, vantage) pair, reduced to what is exposed.

    `text` caches the row's exposition lines (bytes, one item per family in FAMILIES
    order); an update clears it and the next scrape formats the row again.
    """

    __slots__ = (
        "braced",
        "cert_expiry",
        "kind",
        "phase_values",
        "phases",
        "rrs",
        "status",
        "success",
        "text",
        "ts",
        "values",
        "with_phase",
    )

    def __init__(self, values: tuple[str, ...], m: Measurement) -> None:
        self.values = values
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(LABELS, values, strict=True))
        self.braced = ("{" + labels + "} ").encode()
        self.with_phase = ("{" + labels + ',phase="').encode()
        self.update(m)

    def update(self, m: Measurement) -> None:
        self.text: tuple[bytes, ...] | None = None
        self.kind = m.kind
        self.ts = float(m.ts)
        self.success = 1 if m.ok else 0
        timings = m.timings
        present = tuple(p for p in PHASES if p in timings and isfinite(timings[p]))
        self.phases = _phase_set(present)
        self.phase_values = tuple([float(timings[p]) for p in present])
        detail = m.detail
        self.status: int | None = None
        if m.kind == "http":
            status = detail.get("status")
            self.status = status if isinstance(status, int) else 0
        self.cert_expiry = _epoch(detail.get("not_after"))
        answers = detail.get("answers")
        self.rrs = len(answers) if m.kind == "dns" and isinstance(answers, list) else None

    @property
    def durations(self) -> tuple[tuple[str, float], ...]:
        """(phase, seconds) of each timing exposed."""
        return tuple(zip(self.phases, self.phase_values, strict=True))

    def format(self) -> tuple[bytes, ...]:
        """The row's lines of each family in FAMILIES order (`%a` of a float is its repr).

        The duration lines are one `%` of the template of the row's phases (one format
        call per row instead of one per phase: the scrape with every row changed is
        mostly this).
        """
        braced, with_phase = self.braced, self.with_phase
        values = self.phase_values
        if values:
            args: list[bytes | float] = [with_phase, 0.0] * len(values)
            args[1::2] = values
            durations = _DURATION_TEMPLATES[self.phases] % tuple(args)
        else:
            durations = b""
        status, expiry, rrs = self.status, self.cert_expiry, self.rrs
        self.text = text = (
            b"netvigil_probe_success%s%d\n" % (braced, self.success),
            durations,
            b"" if status is None else b"netvigil_probe_http_status_code%s%d\n" % (braced, status),
            b""
            if expiry is None
            else b"netvigil_probe_ssl_earliest_cert_expiry%s%a\n" % (braced, expiry),
            b"" if rrs is None else b"netvigil_probe_dns_answer_rrs%s%d\n" % (braced, rrs),
            b"netvigil_probe_last_timestamp_seconds%s%a\n" % (braced, self.ts),
        )
        return text


class ProbeMetrics:
    """The newest result per (target, vantage), exposed as per-target Prometheus series.

    Usage::

        probes = ProbeMetrics(target_labels(config))
        metrics.track_exposition(probes.render)   # appended to /metrics
        feeds.append(probes)                      # the monitor and ingest call submit()

    `labels` gives each target's (service, network); a target it does not know (an
    agent's own) gets empty values. `now` is the clock `max_age_s` is measured with.
    `submit` and `render` are for one thread (the event loop's).
    """

    def __init__(
        self,
        labels: Mapping[str, TargetLabels] | None = None,
        *,
        max_series: int = DEFAULT_MAX_SERIES,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        now: Callable[[], float] = time.time,
    ) -> None:
        if max_series < 1:
            raise ValueError("max_series must be at least 1")
        if not max_age_s > 0:
            raise ValueError("max_age_s must be more than 0")
        self._labels = dict(labels or {})
        self.max_series = max_series
        self.max_age_s = max_age_s
        self._now = now
        self._rows: dict[tuple[str, str], _Row] = {}
        self.dropped = 0
        """Results dropped because they were for a new pair beyond `max_series`."""

    @classmethod
    def from_config(cls, config: Config, **kwargs: Any) -> ProbeMetrics:
        """A table labelled with the config's services and networks, bounded by its
        `[metrics]` section (`max_series`, `max_age_s`) unless `kwargs` say otherwise."""
        kwargs.setdefault("max_series", config.metrics.max_series)
        kwargs.setdefault("max_age_s", config.metrics.max_age_s)
        return cls(target_labels(config), **kwargs)

    def __len__(self) -> int:
        return len(self._rows)

    def submit(self, m: Measurement) -> None:
        """Keep `m` if it is the newest result of its (target, vantage) pair."""
        key = (m.target, m.vantage)
        row = self._rows.get(key)
        if row is not None:
            if m.ts < row.ts:
                return  # an older result arriving late (an agent's batch)
            if m.kind == row.kind:
                row.update(m)
                return
            # the target changed kind: its labels change, still one row
        elif len(self._rows) >= self.max_series:
            self.dropped += 1
            return
        service, network = self._labels.get(m.target, ("", ""))
        self._rows[key] = _Row((m.target, service, network, m.vantage, m.kind), m)

    def _live_rows(self) -> list[_Row]:
        """The rows, after forgetting those whose newest result is older than max_age_s."""
        oldest = self._now() - self.max_age_s
        stale = [key for key, row in self._rows.items() if row.ts < oldest]
        for key in stale:
            del self._rows[key]
        return list(self._rows.values())

    def render(self) -> bytes:
        """Every series in the Prometheus text exposition format (version 0.0.4).

        Only rows updated since the last scrape are formatted; the others reuse their text.
        """
        rows = self._live_rows()
        texts = [row.text or row.format() for row in rows]
        out: list[bytes] = []
        for i, name in enumerate(FAMILIES):
            kind, help_text = _HELP[name]
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n".encode())
            out.extend([text[i] for text in texts])
        out.append(
            "# HELP netvigil_probe_series Label sets held (one per target and vantage).\n"
            "# TYPE netvigil_probe_series gauge\n"
            f"netvigil_probe_series {len(rows)}\n"
            "# HELP netvigil_probe_series_limit Most label sets held; beyond, new ones are"
            " dropped.\n"
            "# TYPE netvigil_probe_series_limit gauge\n"
            f"netvigil_probe_series_limit {self.max_series}\n"
            "# HELP netvigil_probe_series_dropped_total Results dropped because their target"
            " and vantage were new and the limit was reached.\n"
            "# TYPE netvigil_probe_series_dropped_total counter\n"
            f"netvigil_probe_series_dropped_total {self.dropped}\n".encode()
        )
        return b"".join(out)

    def collect(self) -> Iterator[Metric]:
        """The same series as prometheus_client families (a Collector, slower than render)."""
        rows = self._live_rows()
        for name, value_of in _gauges():
            family = GaugeMetricFamily(name, _HELP[name][1], labels=list(LABELS))
            for row in rows:
                value = value_of(row)
                if value is not None:
                    family.add_metric(row.values, value)
            yield family
        name = "netvigil_probe_duration_seconds"
        durations = GaugeMetricFamily(name, _HELP[name][1], labels=[*LABELS, "phase"])
        for row in rows:
            for phase, seconds in row.durations:
                durations.add_metric([*row.values, phase], seconds)
        yield durations
        yield GaugeMetricFamily("netvigil_probe_series", "Label sets held.", len(rows))
        yield GaugeMetricFamily(
            "netvigil_probe_series_limit", "Most label sets held.", self.max_series
        )
        yield CounterMetricFamily(
            "netvigil_probe_series_dropped", "Results dropped at the limit.", self.dropped
        )


def _gauges() -> tuple[tuple[str, Callable[[_Row], float | None]], ...]:
    return (
        ("netvigil_probe_success", lambda r: r.success),
        ("netvigil_probe_http_status_code", lambda r: r.status),
        ("netvigil_probe_ssl_earliest_cert_expiry", lambda r: r.cert_expiry),
        ("netvigil_probe_dns_answer_rrs", lambda r: r.rrs),
        ("netvigil_probe_last_timestamp_seconds", lambda r: r.ts),
    )
