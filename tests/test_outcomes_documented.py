"""Every Outcome value is documented in docs/outcomes.md."""

from __future__ import annotations

import re
from pathlib import Path

from netvigil.outcome import Outcome, Phase

DOC = Path(__file__).resolve().parent.parent / "docs" / "outcomes.md"


def test_every_outcome_has_a_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `([a-z0-9_]+)`", text, flags=re.MULTILINE))
    missing = sorted(o.value for o in Outcome if o.value not in headings)
    assert not missing, f"undocumented outcomes in {DOC.name}: {missing}"
    unknown = sorted(headings - {o.value for o in Outcome})
    assert not unknown, f"{DOC.name} documents outcomes that do not exist: {unknown}"


def test_every_phase_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for phase in Phase:
        assert f"`{phase.value}`" in text, phase
