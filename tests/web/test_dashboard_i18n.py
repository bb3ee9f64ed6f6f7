"""The dashboard's language catalogues (frontend/src/locale/*.json) against its source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from netvigil.words import VOCABULARY

SRC = Path(__file__).resolve().parents[2] / "frontend" / "src"
MESSAGE = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_messages() -> set[str]:
    """Every literal message the dashboard passes to t()."""
    found: set[str] = set()
    for path in SRC.rglob("*.ts"):
        for match in MESSAGE.finditer(path.read_text(encoding="utf-8")):
            found.add(json.loads(f'"{match.group(1)}"'))
    return found


def catalogue(lang: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((SRC / "locale" / f"{lang}.json").read_text("utf-8"))
    return loaded


def test_the_source_uses_messages() -> None:
    used = used_messages()
    assert {"Overview", "Open incidents", "{n} min", "Status page"} <= used
    assert len(used) > 100


def test_albanian_has_every_message_with_its_placeholders() -> None:
    messages = catalogue("sq")["messages"]
    assert isinstance(messages, dict)
    missing = sorted(used_messages() - set(messages))
    assert not missing, f"missing from frontend/src/locale/sq.json: {missing}"
    for message, said in messages.items():
        assert said.strip(), message
        wanted = set(PLACEHOLDER.findall(message))
        assert set(PLACEHOLDER.findall(said)) == wanted, message
    unused = sorted(set(messages) - used_messages())
    assert not unused, f"no longer used: {unused}"


@pytest.mark.parametrize("section", ["states", "causes"])
def test_albanian_names_every_state_and_cause(section: str) -> None:
    names = catalogue("sq")[section]
    assert isinstance(names, dict)
    keys = set(VOCABULARY[section])
    if section == "causes":
        keys.add("ddos_mitigation")
    assert keys <= set(names)
    assert names.get("degraded", names.get("shutdown")) in (
        "pjesërisht jashtë funksionit",
        "shkëputje e rrjetit",
    )


def test_english_is_the_messages_themselves() -> None:
    english = catalogue("en")
    assert english["name"] == "English"
    assert english["messages"] == {}
    assert catalogue("sq")["name"] == "Shqip"
