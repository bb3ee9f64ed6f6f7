"""Every config setting, outcome and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from netvigil.cli.commands import COMMANDS
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
    ("## `[metrics]`", model.MetricsConfig),
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
    names = [c.name for c in COMMANDS]
    assert names
    missing = [n for n in names if f"netvigil {n}" not in readme]
    assert not missing, f"commands missing from README: {missing}"


def _exposed_series() -> set[str]:
    """Every series name /metrics can expose, with each per-target series filled."""
    from prometheus_client.parser import text_string_to_metric_families

    from netvigil.metrics import DetectionFigures, Metrics
    from netvigil.model import Measurement, Observation
    from netvigil.outcome import Outcome
    from netvigil.probe_metrics import PHASES, ProbeMetrics

    metrics = Metrics()
    figures = DetectionFigures(
        measurements=1,
        queue_depth=0,
        dropped=0,
        cpu_seconds=0.1,
        gc_seconds=0.01,
        hold_buckets=[("0.01", 1.0), ("+Inf", 1.0)],
        hold_seconds=0.002,
        longest_hold_seconds=0.002,
        late_by_vantage={"v": 1},
        clock_offset_by_vantage={"v": 0.5},
    )
    metrics.track_detection(lambda: figures)
    probes = ProbeMetrics(now=lambda: 100.0)
    metrics.track_exposition(probes.render)
    detail = {"status": 200, "not_after": "2030-01-01T00:00:00+00:00", "answers": ["a"]}
    for kind in ("http", "tls", "dns"):
        obs = Observation(ok=True, outcome=Outcome.OK, timings=dict.fromkeys(PHASES, 0.1))
        obs.detail = detail
        probes.submit(Measurement.from_observation(obs, vantage="v", target=kind, kind=kind, ts=99))
    names = set()
    for family in text_string_to_metric_families(metrics.render().decode()):
        if family.name.endswith("_created"):  # a counter's creation time, beside it
            continue
        suffix = "_total" if family.type == "counter" else ""
        names.add(family.name + suffix)
    return names


def test_every_metric_is_documented() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text()
    names = _exposed_series()
    assert {"netvigil_probe_success", "netvigil_checks_total"} <= names
    assert "netvigil_probe_ssl_earliest_cert_expiry" in names
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"series missing from docs/metrics.md: {missing}"
