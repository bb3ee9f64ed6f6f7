"""service_failure: one service crashed or refuses, while its network and neighbours are fine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.words import names, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["ServiceFailureRule"]


class ServiceFailureRule:
    """Looks for refusals or fast server errors confined to one service."""

    cause = Cause.SERVICE_FAILURE

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """TCP/HTTP layers, then co-fate."""
        f = window.features
        verdict = Verdict(self.cause)
        if f.frac_refused > 0:
            verdict.add(
                window.weight("service.refused") * f.frac_refused,
                Topic.TCP,
                f"connection refused (TCP RST) in {share(f.frac_refused)} of failed probes: "
                "the host answers but nothing listens",
            )
        fast = f.ttfb_base_s <= 0 or f.ttfb_post_s < 0 or f.ttfb_post_s < 3 * f.ttfb_base_s
        errors = max(0.0, f.frac_http_5xx - f.frac_overload)
        if errors > 0 and fast:
            verdict.add(
                window.weight("service.http_5xx_fast") * errors,
                Topic.HTTP,
                f"HTTP 5xx other than 503 in {share(errors)} of failed probes, answered "
                "without delay: the server reports its own error",
            )
        if f.frac_overload > 0:
            verdict.add(
                window.weight("service.overload_status") * f.frac_overload,
                Topic.HTTP,
                f"the server answered 503 or 429 in {share(f.frac_overload)} of failed probes: "
                "it says it is overloaded, not broken",
            )
        unreachable = f.frac_silent + f.frac_net_unreach + f.frac_host_unreach + f.frac_prohibited
        if unreachable >= 0.5:
            verdict.add(
                window.weight("service.unreachable") * unreachable,
                Topic.TCP,
                f"{share(unreachable)} of failed probes never reached the host "
                "(unanswered or unreachable): the host is cut off, not one process down",
            )
        if not verdict.evidence:
            return None
        _weigh_reachable_elsewhere(window, verdict)
        if len(window.services) == 1:
            verdict.add(
                window.weight("service.single"),
                Topic.COFATE,
                f"1 service failed alone ({window.services[0]})",
            )
        else:
            verdict.add(
                window.weight("service.many") * min(1.0, (len(window.services) - 1) / 2),
                Topic.COFATE,
                f"{len(window.services)} services failed together ({names(window.services)})",
            )
        if window.cohosted_up:
            verdict.add(
                window.weight("service.cohosted_up"),
                Topic.COFATE,
                f"{len(window.cohosted_up)} of {window.cohosted_total} other service(s) on "
                f"network {names(window.networks)} kept answering ({names(window.cohosted_up)})",
            )
        return verdict


def _weigh_reachable_elsewhere(window: EvidenceWindow, verdict: Verdict) -> None:
    """Healthy vantages that reach every target: a crashed service fails for everyone."""
    reach = [
        v
        for v in window.vantages
        if not v.impaired and v.members_total and v.members_ok == v.members_total
    ]
    if reach and any(v.failing for v in window.vantages):
        verdict.add(
            window.weight("service.reachable_elsewhere"),
            Topic.GEOGRAPHY,
            f"{len(reach)} vantage(s) ({names(v.name for v in reach)}) still get an answer: "
            "the service itself is up",
        )
