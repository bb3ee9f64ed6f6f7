"""application_ddos: the network path works, the application drowns (5xx, slow first byte)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.words import latency, outcome_mix, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["ApplicationDDoSRule"]

_HTTP = ("http_5xx", "http_timeout", "tls_timeout")


class ApplicationDDoSRule:
    """HTTP errors and timeouts after TCP connected, with time to first byte inflated."""

    cause = Cause.APPLICATION_DDOS

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """HTTP layer and its timing."""
        f = window.features
        http = f.frac_http_5xx + f.frac_http_slow
        if http < 0.3:
            return None
        verdict = Verdict(self.cause)
        verdict.add(
            window.weight("app_ddos.http_with_tcp") * http * f.connected_frac,
            Topic.HTTP,
            f"HTTP failed after TCP connected in {share(f.connected_frac)} of failed probes "
            f"({outcome_mix(window.outcomes, _HTTP)}): the network path works, "
            "the application does not keep up",
        )
        if f.frac_http_slow > 0:
            verdict.add(
                window.weight("app_ddos.slow") * f.frac_http_slow,
                Topic.HTTP,
                f"no first byte before the timeout in {share(f.frac_http_slow)} of failed probes",
            )
        if f.frac_overload > 0:
            verdict.add(
                window.weight("app_ddos.overload_status") * f.frac_overload,
                Topic.HTTP,
                f"the server answered 503 or 429 in {share(f.frac_overload)} of failed probes: "
                "it sheds load it cannot serve",
            )
        if f.ttfb_ok_post_s > 0 and f.ttfb_ref_s > 0:
            # Requests that are still served wait in the server's queue.
            ratio = f.ttfb_ok_post_s / f.ttfb_ref_s
            if ratio >= 2:
                verdict.add(
                    window.weight("app_ddos.ttfb_inflated") * min(1.0, (ratio - 1) / 4),
                    Topic.HTTP,
                    f"median time to first byte of the requests still served since onset "
                    f"{latency(f.ttfb_ok_post_s)} vs {latency(f.ttfb_ref_s)} before (x{ratio:.1f})",
                )
        elif f.ttfb_post_s > 0 and f.ttfb_base_s > 0:
            ratio = f.ttfb_post_s / f.ttfb_base_s
            if ratio >= 3:
                verdict.add(
                    window.weight("app_ddos.ttfb_inflated") * min(1.0, ratio / 10),
                    Topic.HTTP,
                    f"median time to first byte since onset {latency(f.ttfb_post_s)} vs "
                    f"baseline {latency(f.ttfb_base_s)} (x{ratio:.0f})",
                )
        if 0 < f.loss_post < 0.95:
            verdict.add(
                window.weight("app_ddos.partial"),
                Topic.SHAPE,
                f"{share(f.loss_post)} of probes failed since onset: some requests still served",
            )
        if f.frac_refused > 0.3:
            verdict.add(
                window.weight("app_ddos.refused") * f.frac_refused,
                Topic.TCP,
                f"connection refused in {share(f.frac_refused)} of failed probes",
            )
        unreachable = f.frac_silent + f.frac_net_unreach + f.frac_host_unreach + f.frac_prohibited
        if unreachable > 0.3:
            verdict.add(
                window.weight("app_ddos.unreachable") * unreachable,
                Topic.TCP,
                f"{share(unreachable)} of failed probes did not even connect",
            )
        return verdict
