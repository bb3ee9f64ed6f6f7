"""Incident reports end to end: a real SQLite store, a replayed shutdown, both formats."""

from __future__ import annotations

import asyncio
import base64
import re
import shlex
import struct
from dataclasses import dataclass
from datetime import datetime
from html import escape as html_escape
from pathlib import Path

import pytest

from netvigil.cause import Cause, Evidence, Topic
from netvigil.config.model import Config
from netvigil.incident import CauseChange, Incident, IncidentState
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.replay import replay
from netvigil.report import Report, build_report, draw_figures, figures_dir, write_report
from netvigil.report.build import read_rollups
from netvigil.report.figures import OUTCOME_COLOURS, OUTCOME_GLOSS, draw_reachability
from netvigil.report.markdown import escape as md_escape
from netvigil.report.markdown import markdown_text
from netvigil.store.base import RollupQuery
from netvigil.store.sqlite import SQLiteStore

from . import scenario as sc

OUTAGE_S = 720.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Short:
    """A 12-minute shutdown, replayed, stored and reported."""

    config: Config
    measurements: list[Measurement]
    incident: Incident
    report: Report


async def _build_short(path: Path) -> Short:
    config = sc.config(10.0)
    ms = sc.measurements(interval_s=10.0, before_s=1500.0, outage_s=OUTAGE_S, after_s=1500.0)
    [incident] = replay(ms, config)
    async with await SQLiteStore.open(path) as store:
        await store.add(ms)
        report = await build_report(incident, store, config, now=sc.ONSET + 86_400)
    return Short(config, ms, incident, report)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Short:
    return asyncio.run(_build_short(tmp_path_factory.mktemp("store") / "netvigil.db"))


@dataclass
class Rendered:
    md: Path
    md_text: str
    html: str
    written_md: list[Path]


@pytest.fixture(scope="module")
def rendered(short: Short, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    out = tmp_path_factory.mktemp("report")
    md = out / "incident.md"
    charts = draw_figures(short.report)  # drawn once for both formats
    written = write_report(short.report, md, charts=charts)
    html_path = out / "incident.html"
    assert write_report(short.report, html_path, charts=charts) == [html_path]
    return Rendered(md, md.read_text("utf-8"), html_path.read_text("utf-8"), written)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk; fails on anything that is not a PNG."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_scenario_replays_to_one_shutdown(short: Short) -> None:
    inc = short.incident
    assert inc.state is IncidentState.RESOLVED
    assert inc.cause is Cause.SHUTDOWN
    assert inc.services == sorted(sc.GOV)
    assert sc.UP not in inc.services
    assert inc.vantages == list(sc.VANTAGES)
    assert inc.evidence


def test_markdown_and_figure_files_exist(rendered: Rendered) -> None:
    folder = figures_dir(rendered.md)
    assert folder == rendered.md.parent / "incident-files"
    pngs = sorted(folder.glob("*.png"))
    assert [p.name for p in pngs] == ["latency.png", "outcomes.png", "reachability.png"]
    assert rendered.written_md == [rendered.md, *pngs]
    for png in pngs:
        width, height = png_size(png.read_bytes())
        assert width == 1350  # 9 in at 150 dpi: readable shown 900 px wide
        assert 500 <= height <= 2400
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", rendered.md_text)
    assert len(links) == 3
    for link in links:
        assert (rendered.md.parent / link).is_file()


def test_html_is_self_contained(rendered: Rendered) -> None:
    html = rendered.html
    lowered = html.lower()
    for forbidden in ('src="http', "<script", '<link href="http', "url(http", "@import"):
        assert forbidden not in lowered
    assert lowered.startswith("<!doctype html>")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    for data in images:
        width, _height = png_size(base64.b64decode(data))
        assert width == 1350
    assert len(re.findall(r"<img ", html)) == 3
    assert len(re.findall(r'alt="[^"]{20,}"', html)) == 3


def test_headline_evidence_and_facts_are_in_both_formats(short: Short, rendered: Rendered) -> None:
    report = short.report
    assert report.headline.startswith(
        "e-albania, kryeministria and parlament unreachable from 2 vantages from "
        "2022-07-16 21:04 UTC for 12 min; it looks like a deliberate shutdown (confidence "
    )
    assert report.headline in rendered.md_text
    assert html_escape(report.headline) in rendered.html
    for evidence in short.incident.evidence:
        assert md_escape(evidence.statement) in rendered.md_text
        assert html_escape(evidence.statement) in rendered.html
    for text in (rendered.md_text, rendered.html):
        assert "govnet" in text
        assert "frankfurt, tirana" in text
        assert short.incident.first_measurement_id in text
        assert "netvigil export --since 2022-07-16T" in text


def test_reachability_data_follows_the_store(short: Short) -> None:
    report = short.report
    grid = report.grid
    assert grid.source == "measurements"
    assert grid.width_s == 30.0  # three 10 s probe intervals
    assert [p.service for p in report.panels] == [*sorted(sc.GOV), sc.UP]
    assert [p.affected for p in report.panels] == [True, True, True, False]
    edges = grid.edges()
    inside = [i for i, e in enumerate(edges) if e >= sc.ONSET and e + 30 <= sc.ONSET + OUTAGE_S]
    before = [i for i, e in enumerate(edges) if e >= report.since and e + 30 <= sc.ONSET]
    assert len(inside) >= 20 and len(before) >= 20
    for service in sc.GOV:
        lines = report.reachability[service]
        assert sorted(lines) == sorted(sc.VANTAGES)
        for ratios in lines.values():
            assert all(ratios[i] == 0.0 for i in inside)
            assert all(ratios[i] == 1.0 for i in before)
    for ratios in report.reachability[sc.UP].values():
        assert {r for r in ratios if r is not None} == {1.0}


def test_outcome_and_latency_data_follow_the_store(short: Short) -> None:
    report = short.report
    gov = {sc.target(s) for s in sc.GOV}
    window = [m for m in short.measurements if report.since <= m.ts < report.until]
    failed = [m for m in window if m.target in gov and not m.ok]
    assert list(report.outcomes) == ["ok", "tcp_timeout"]
    assert sum(report.outcomes["tcp_timeout"]) == len(failed)
    assert sum(report.outcomes["ok"]) == len([m for m in window if m.target in gov and m.ok])
    for vantage, base in sc.BASE_LATENCY.items():
        band = report.latency[vantage]
        assert band.baseline is not None
        assert 2.5 * base * 0.85 <= band.baseline <= 2.5 * base * 1.25
        inside = report.grid.index(sc.ONSET + OUTAGE_S / 2)
        assert inside is not None
        assert band.p50[inside] is None and band.probes[inside] > 0


def test_timeline_and_checkable_ids(short: Short) -> None:
    report, inc = short.report, short.incident
    first = report.timeline[0]
    assert first.ts == inc.start
    assert first.measurement_id == inc.first_measurement_id
    assert "tcp_timeout" in first.text
    texts = [e.text for e in report.timeline]
    assert any(t.startswith("confirmed") for t in texts)
    assert any("looks like shutdown" in t for t in texts)
    assert texts[-1].startswith("ended")
    assert [e.ts for e in report.timeline] == sorted(e.ts for e in report.timeline)
    stored = {m.id: m for m in short.measurements}
    assert len(report.failed_probes) == len(sc.GOV) * len(sc.VANTAGES)
    for probe in report.failed_probes:
        m = stored[probe.id]
        assert not m.ok and m.ts >= inc.start
        assert probe.outcome == m.outcome.value == Outcome.TCP_TIMEOUT.value
    words = shlex.split(report.export_command)
    assert words[:2] == ["netvigil", "export"]
    since = datetime.fromisoformat(words[words.index("--since") + 1]).timestamp()
    until = datetime.fromisoformat(words[words.index("--until") + 1]).timestamp()
    assert since <= report.since and until >= report.until
    targets = {words[i + 1] for i, w in enumerate(words) if w == "--target"}
    assert targets == {sc.target(s) for s in (*sc.GOV, sc.UP)}


def test_write_report_refuses_an_unknown_suffix(short: Short, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.pdf"):
        write_report(short.report, tmp_path / "incident.pdf")
    assert not (tmp_path / "incident.pdf").exists()


def test_every_outcome_has_its_own_colour_and_words() -> None:
    names = {o.value for o in Outcome}
    assert set(OUTCOME_COLOURS) == names == set(OUTCOME_GLOSS)
    assert len(set(OUTCOME_COLOURS.values())) == len(OUTCOME_COLOURS)


def _long_incident() -> Incident:
    start = sc.ONSET
    return Incident(
        id="inc-long",
        state=IncidentState.CONFIRMED,
        start=start,
        first_measurement_id=f"{start:014.3f}-frankfurt-e-albania-https",
        confirmed_at=start + 40,
        cause=Cause.VOLUMETRIC_DDOS,
        confidence=0.55,
        services=list(sc.GOV),
        targets=[sc.target(s) for s in sc.GOV],
        networks=["govnet"],
        organizations=["government"],
        vantages=list(sc.VANTAGES),
        evidence=[Evidence("loss 100% since onset", Topic.SHAPE, 2.5, Cause.SHUTDOWN)],
        cause_history=[
            CauseChange(start + 40, Cause.SHUTDOWN, 0.8),
            CauseChange(start + 3 * 3600, Cause.VOLUMETRIC_DDOS, 0.55),
        ],
    )


async def test_long_open_incident_reads_rollups_and_marks_cause_changes(tmp_path: Path) -> None:
    config = sc.config(60.0)
    ms = sc.measurements(interval_s=60.0, before_s=6 * 3600.0, outage_s=7 * 3600.0, after_s=0.0)
    inc = _long_incident()
    now = sc.ONSET + 7 * 3600.0
    async with await SQLiteStore.open(tmp_path / "netvigil.db") as store:
        await store.add(ms)
        report = await build_report(inc, store, config, now=now)
        assert report.grid.source == "rollups"
        assert report.grid.width_s == 600.0
        assert report.shade_end == now
        assert now < report.until < now + 1800
        assert "since 2022-07-16 21:04 UTC (7 h so far)" in report.headline
        assert "volumetric DDoS attack (the network flooded) (confidence 0.55)" in report.headline
        texts = [e.text for e in report.timeline]
        assert "cause changed from shutdown to volumetric DDoS (confidence 0.55)" in texts
        assert texts[-1].startswith("still open")
        ratios = report.reachability["e-albania"]["tirana"]
        mid = report.grid.index(sc.ONSET + 3600)
        early = report.grid.index(sc.ONSET - 3600)
        assert mid is not None and early is not None
        assert ratios[mid] == 0.0 and ratios[early] == 1.0
        names = [sc.target(s) for s in (*sc.GOV, sc.UP)]
        whole = await store.rollups(RollupQuery(since=report.since, until=now, targets=names))
        paged = await read_rollups(store, report.since, now, names, page_size=20)
        assert len(whole) > 1000
        assert paged == whole
        width, height = png_size(draw_reachability(report))
        assert width == 1350 and height > 500

        # Once raw rows are pruned, a short window falls back to per-minute rollups.
        await store.prune(now + 1)
        short_inc = _long_incident()
        short_inc.state, short_inc.end = IncidentState.RESOLVED, sc.ONSET + 900
        pruned = await build_report(short_inc, store, config, context_s=1800)
    assert pruned.grid.source == "rollups"
    assert pruned.notes and "no raw measurements" in pruned.notes[0]
    assert pruned.failed_probes == []
    assert (
        pruned.reachability["parlament"]["frankfurt"][pruned.grid.index(sc.ONSET + 300) or 0] == 0.0
    )
    text = markdown_text(pruned, [], "x/")
    assert "No raw failed measurements are stored" in text
    assert "## Notes" in text
