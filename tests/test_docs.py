"""Every config setting, outcome and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from netvigil.cli import app
from netvigil.config import model
from netvigil.probes import DNSSpec, HTTPSpec, ICMPSpec, TCPSpec, TLSSpec

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("## `[vantage]`", model.VantageConfig),
    ("## `[[networks]]`", model.NetworkConfig),
    ("## `[[organizations]]`", model.OrganizationConfig),
    ("## `[[services]]`", model.ServiceConfig),
    ('### `kind = "http"`', HTTPSpec),
    ('### `kind = "tcp"`', TCPSpec),
    ('### `kind = "dns"`', DNSSpec),
    ('### `kind = "icmp"`', ICMPSpec),
    ('### `kind = "tls"`', TLSSpec),
    ("## `[store]`", model.StoreConfig),
    ("## `[scheduler]`", model.SchedulerConfig),
    ("## `[detect]`", model.DetectConfig),
    ("## `[server]`", model.ServerConfig),
    ("## `[[agents]]`", model.AgentConfig),
    ("## `[[maintenance]]`", model.MaintenanceConfig),
    ("## `[[notify]]`", model.WebhookNotifyConfig),
    ("## `[[notify]]`", model.SMTPNotifyConfig),
    ("## `[[notify]]`", model.AppriseNotifyConfig),
]


def section(heading: str) -> str:
    start = CONFIG_DOC.index(heading)
    rest = CONFIG_DOC[start + len(heading) :]
    following = re.search(r"^## ", rest, flags=re.MULTILINE)
    return rest if following is None else rest[: following.start()]


@pytest.mark.parametrize(("heading", "cls"), SECTIONS, ids=[c.__name__ for _, c in SECTIONS])
def test_every_config_setting_is_documented(heading: str, cls: type[BaseModel]) -> None:
    text = section(heading)
    common = (
        section("## `[[targets]]`")
        if cls in (HTTPSpec, TCPSpec, DNSSpec, ICMPSpec, TLSSpec)
        else ""
    )
    missing = [name for name in cls.model_fields if f"`{name}`" not in text + common]
    assert not missing, f"{cls.__name__}: undocumented in docs/configuration.md: {missing}"


def test_every_top_level_section_is_documented() -> None:
    for name in model.Config.model_fields:
        assert f"[{name}]" in CONFIG_DOC or f"[[{name}]]" in CONFIG_DOC, name


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert names
    missing = [n for n in names if f"netvigil {n}" not in readme]
    assert not missing, f"commands missing from README: {missing}"
