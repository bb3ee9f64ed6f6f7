"""in_country_filtering: in-country vantages fail while those abroad reach the targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.words import names

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["InCountryFilteringRule"]


class InCountryFilteringRule:
    """Compares what vantages inside the country see with what those abroad see."""

    cause = Cause.IN_COUNTRY_FILTERING

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """In-country vs abroad."""
        healthy = [v for v in window.vantages if not v.impaired and v.members_total]
        inside = [v for v in healthy if v.in_country]
        abroad = [v for v in healthy if not v.in_country]
        if not inside or not abroad:
            return None
        verdict = Verdict(self.cause)
        inside_failing = [v for v in inside if v.failing]
        abroad_failing = [v for v in abroad if v.failing]
        abroad_fine = [v for v in abroad if v.members_ok == v.members_total]
        if inside_failing and abroad_fine and not abroad_failing:
            # A vantage abroad whose paths are neither in good health nor confirmed down
            # (a failure or two: its own trouble beginning, or an outage reaching it) has
            # no say yet: the answers of the others count for their share.
            verdict.add(
                window.weight("filtering.inside_fails_abroad_ok")
                * len(inside_failing)
                / len(inside)
                * len(abroad_fine)
                / len(abroad),
                Topic.GEOGRAPHY,
                f"unreachable from {len(inside_failing)} of {len(inside)} in-country "
                f"vantage(s) ({names(v.name for v in inside_failing)}) while "
                f"{len(abroad_fine)} of {len(abroad)} abroad "
                f"({names(v.name for v in abroad_fine)}) reach it",
            )
        elif abroad_failing:
            countries = window.countries_of(v.name for v in abroad_failing)
            where = f" in {names(countries)}" if countries else ""
            verdict.add(
                window.weight("filtering.abroad_fails_too"),
                Topic.GEOGRAPHY,
                f"also unreachable from {len(abroad_failing)} vantage(s) abroad{where} "
                f"({names(v.name for v in abroad_failing)}): not a block at the border",
            )
        else:
            return None
        return verdict
