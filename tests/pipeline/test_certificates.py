"""Certificates about to run out are warned of through the alert channels, once at each
threshold, from a real TLS server's certificate."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import trustme

from netvigil.config import parse_config
from netvigil.incident import EventKind, IncidentEvent
from netvigil.model import Measurement
from netvigil.notify.message import headline, render
from netvigil.outcome import Outcome
from netvigil.pipeline.certificates import CertificateWatch
from netvigil.probes import TLSProbe, TLSSpec
from servers.certs import LOOPBACK_NAMES
from servers.http import serve_http

CONFIG = """
[[services]]
name = "portal"
[[targets]]
name = "portal-tls"
service = "portal"
kind = "tls"
host = "127.0.0.1"
port = 443
"""


class Sink:
    def __init__(self) -> None:
        self.events: list[IncidentEvent] = []

    def submit(self, event: IncidentEvent) -> None:
        self.events.append(event)


def measurement(
    days: float, not_after: str, vantage: str = "local", ts: float = 1e9
) -> Measurement:
    return Measurement(
        id=f"{ts}-{vantage}-{days}",
        ts=ts,
        vantage=vantage,
        target="portal-tls",
        kind="tls",
        ok=True,
        outcome=Outcome.OK,
        detail={"days_to_expiry": days, "not_after": not_after, "subject": "CN=portal"},
    )


def test_one_warning_per_threshold_and_afresh_for_a_renewed_certificate() -> None:
    sink = Sink()
    watch = CertificateWatch(parse_config(CONFIG), [sink])
    old, new = "2026-12-20T10:00:00+00:00", "2027-03-20T10:00:00+00:00"
    for days in (40.0, 25.0, 20.5, 20.0, 19.0, 8.0, 6.9, 6.5):
        watch.submit(measurement(days, old))
    assert [e.incident.id for e in sink.events] == [
        "cert-portal-tls-21d-20261220",
        "cert-portal-tls-7d-20261220",
    ]
    watch.submit(measurement(95.0, new))  # renewed: nothing to say
    watch.submit(measurement(3.0, new, vantage="abroad"))  # one vantage sees an old one
    assert sink.events[-1].incident.id == "cert-portal-tls-7d-20270320"
    assert len(sink.events) == 3  # straight to 3 days: one warning, the nearest
    assert watch.days_left["portal-tls"] == 3.0


async def test_a_certificate_about_to_expire_is_warned_of_in_words(tmp_path: Path) -> None:
    ca = trustme.CA()
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_cert(
        *LOOPBACK_NAMES,
        not_before=now - dt.timedelta(days=80),
        not_after=now + dt.timedelta(days=5),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with serve_http("127.0.0.1", server) as base:
        port = int(base.rsplit(":", 1)[1])
        spec = TLSSpec(name="portal-tls", host="127.0.0.1", port=port, ca_file=str(ca_file))
        obs = await TLSProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    m = Measurement(
        id="m1",
        ts=now.timestamp(),
        vantage="local",
        target="portal-tls",
        kind="tls",
        ok=True,
        outcome=obs.outcome,
        detail=obs.detail,
    )
    sink = Sink()
    CertificateWatch(parse_config(CONFIG), [sink]).submit(m)
    [event] = sink.events
    assert event.kind is EventKind.CERTIFICATE
    line = headline(event)
    assert line.startswith("CERTIFICATE: the certificate of portal-tls")
    assert "4.9 days left" in line or "5.0 days left" in line
    assert "(warning at 7 days)" in line
    assert render(event).subject == "[netvigil] CERTIFICATE: portal-tls certificate expires soon"


def test_days_left_reach_every_reader_through_the_current_state() -> None:
    from netvigil.state.current import CurrentState
    from netvigil.web.api.models.services import PairOut

    current = CurrentState(parse_config(CONFIG))
    current.observe(measurement(12.345, "2026-12-20T10:00:00+00:00", ts=1000.0))
    [pair] = current.target("portal-tls", 1001.0).pairs
    assert pair.cert_days_left == 12.345
    assert PairOut.of(pair).cert_days_left == 12.35
    assert pair.to_json()["cert_days_left"] == 12.345
