"""tls_failure: TCP connects but the TLS handshake or certificate fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.outcome import Outcome
from netvigil.words import outcome_mix, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["TLSFailureRule"]

_TLS = [o.value for o in Outcome if o.value.startswith("tls_") and o is not Outcome.TLS_TIMEOUT]
_CERT = ("tls_cert_expired", "tls_cert_invalid")


class TLSFailureRule:
    """Weighs the share of failures in the TLS handshake; certificate errors count more."""

    cause = Cause.TLS_FAILURE

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """TLS layer."""
        frac = window.features.frac_tls
        if frac <= 0.0:
            return None
        verdict = Verdict(self.cause)
        n = sum(window.outcomes[o] for o in _TLS)
        total = sum(window.outcomes.values())
        verdict.add(
            window.weight("tls.failures") * frac,
            Topic.TLS,
            f"TLS failed after TCP connected in {n} of {total} failed probes "
            f"({share(frac)}: {outcome_mix(window.outcomes, _TLS)})",
        )
        cert = sum(window.outcomes[o] for o in _CERT)
        if cert:
            verdict.add(
                window.weight("tls.certificate") * cert / max(1, total),
                Topic.TLS,
                f"the certificate was refused in {cert} probe(s) "
                f"({outcome_mix(window.outcomes, _CERT)}): a configuration fault, not load",
            )
        return verdict
