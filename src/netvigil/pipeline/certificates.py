"""Certificates about to run out: a warning through the alert channels, once at each of
`[certificates] warn_days` (21 and 7 days left by default) per certificate.

`CertificateWatch` is a measurement sink. A TLS measurement records the days left on the
certificate it was shown (`detail.days_to_expiry`, `not_after`); the fewest days any
vantage saw for a target is the figure. When it falls below a threshold not yet warned
of for that certificate, one `certificate` event goes to the event sinks (the alert
dispatcher, the log). A renewed certificate (a later `not_after`) is watched afresh.
The event carries a small incident record (id `cert-<target>-<days>d-<date>`, cause
`tls_failure`, one evidence statement) so notifiers can render it; it is not an outage
and is neither stored as an incident nor shown as one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from netvigil.cause import Cause, Evidence, Topic
from netvigil.config.model import Config
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.model import Measurement
from netvigil.pipeline.detection import EventSink

__all__ = ["CertificateWatch"]

log = logging.getLogger("netvigil.certificates")


class CertificateWatch:
    """Warns of certificates about to expire; see the module docstring."""

    def __init__(self, config: Config, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)
        self.reconfigure(config)
        self._warned: dict[tuple[str, str], set[float]] = {}
        """(target, not_after) -> thresholds already warned of."""
        self.days_left: dict[str, float] = {}
        """Per target, the fewest days left any vantage saw lately."""
        self._seen: dict[str, dict[str, float]] = {}
        """Per target, the days left each vantage saw last."""

    def reconfigure(self, config: Config) -> None:
        """Take the thresholds and services of `config` (also on a reload)."""
        self.thresholds = sorted(set(config.certificates.warn_days), reverse=True)
        self._service = {t.name: t.service for t in config.targets}

    def submit(self, m: Measurement) -> None:
        """Take one measurement (never blocks)."""
        days = m.detail.get("days_to_expiry") if m.detail else None
        not_after = m.detail.get("not_after") if m.detail else None
        if not isinstance(days, int | float) or not isinstance(not_after, str):
            return
        seen = self._seen.setdefault(m.target, {})
        seen[m.vantage] = float(days)
        fewest = min(seen.values())
        self.days_left[m.target] = fewest
        crossed = [t for t in self.thresholds if fewest < t]
        if not crossed:
            return
        warned = self._warned.setdefault((m.target, not_after), set())
        if min(crossed) in warned:
            return
        warned.update(crossed)  # from 30 days straight to 5: one warning, the nearest
        event = self._event(m, min(crossed), float(days), not_after)
        log.warning("%s", event.incident.evidence[0].statement)
        for sink in self.sinks:
            sink.submit(event)

    def _event(
        self, m: Measurement, threshold: float, days: float, not_after: str
    ) -> IncidentEvent:
        when = datetime.fromisoformat(not_after).astimezone(UTC)
        service = self._service.get(m.target)
        subject = m.detail.get("subject") or m.target
        statement = (
            f"the certificate of {m.target} ({subject}) expires on "
            f"{when:%Y-%m-%d %H:%M} UTC: {max(days, 0.0):.1f} days left "
            f"(warning at {threshold:g} days), seen from {m.vantage}"
        )
        incident = Incident(
            id=f"cert-{m.target}-{threshold:g}d-{when:%Y%m%d}",
            state=IncidentState.CONFIRMED,
            start=m.ts,
            confirmed_at=m.ts,
            cause=Cause.TLS_FAILURE,
            confidence=1.0,
            services=[service] if service else [],
            targets=[m.target],
            vantages=[m.vantage],
            evidence=[Evidence(statement, Topic.TLS, 0.0, Cause.TLS_FAILURE)],
            updated=m.ts,
        )
        return IncidentEvent(EventKind.CERTIFICATE, m.ts, incident)
