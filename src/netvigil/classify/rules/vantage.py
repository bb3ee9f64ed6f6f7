"""vantage_problem: one vantage fails on everything, controls included, while others see fine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.words import names

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["VantageProblemRule"]


class VantageProblemRule:
    """Blames a vantage whose own controls fail, or which fails where its peers do not."""

    cause = Cause.VANTAGE_PROBLEM

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """Vantage health: controls first."""
        verdict = Verdict(self.cause)
        impaired = [v for v in window.vantages if v.impaired and v.failing]
        for v in impaired:
            if v.controls_total:
                verdict.add(
                    window.weight("vantage.controls_down"),
                    Topic.VANTAGE,
                    f"controls seen from vantage {v.name}: {v.controls_down} of "
                    f"{v.controls_total} down",
                )
            else:
                verdict.add(
                    window.weight("vantage.fails_everything"),
                    Topic.VANTAGE,
                    f"vantage {v.name} has {v.paths_down} of {v.paths_total} targets down",
                )
        if impaired:
            others = [v for v in window.vantages if not v.impaired and v.members_total]
            fine = [v for v in others if not v.failing]
            if fine:
                verdict.add(
                    window.weight("vantage.others_fine") * len(fine) / len(others),
                    Topic.VANTAGE,
                    f"{len(fine)} other vantage(s) ({names(v.name for v in fine)}) see "
                    "the same targets answer",
                )
            return verdict
        checked = [v for v in window.failing_vantages if v.controls_total]
        if checked:
            verdict.add(
                window.weight("vantage.controls_ok"),
                Topic.VANTAGE,
                f"controls answered from {len(checked)} failing vantage(s) "
                f"({names(v.name for v in checked)}): the vantages themselves are fine",
            )
            return verdict
        return None
