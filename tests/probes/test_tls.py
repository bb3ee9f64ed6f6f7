"""TLS probe detail: protocol, certificate names and expiry, also for failed verification."""

from __future__ import annotations

from netvigil.outcome import Outcome
from netvigil.probes import TLSProbe, TLSSpec
from servers.certs import CertKit
from servers.http import serve_http


async def _probe(kit: CertKit, kind: str) -> dict[str, object]:
    async with serve_http("127.0.0.1", kit.server_context(kind)) as base:
        port = int(base.rsplit(":", 1)[1])
        spec = TLSSpec(name="t", host="127.0.0.1", port=port, ca_file=str(kit.ca_file))
        obs = await TLSProbe().measure(spec)
    return {"outcome": obs.outcome, **obs.detail, "timings": obs.timings}


async def test_good_certificate_facts(cert_kit: CertKit) -> None:
    facts = await _probe(cert_kit, "good")
    assert facts["outcome"] is Outcome.OK
    assert str(facts["tls_version"]).startswith("TLS")
    assert facts["tls_cipher"]
    assert "localhost" in facts["san"]  # type: ignore[operator]
    assert "127.0.0.1" in facts["san"]  # type: ignore[operator]
    assert "trustme" in str(facts["issuer"])
    assert float(facts["days_to_expiry"]) > 30  # type: ignore[arg-type]
    assert {"connect", "tls", "total"} <= set(facts["timings"])  # type: ignore[arg-type]


async def test_expired_certificate_still_reports_its_dates(cert_kit: CertKit) -> None:
    facts = await _probe(cert_kit, "expired")
    assert facts["outcome"] is Outcome.TLS_CERT_EXPIRED
    assert facts["verify_code"] == 10
    assert float(facts["days_to_expiry"]) < 0  # type: ignore[arg-type]
    assert "not_after" in facts
