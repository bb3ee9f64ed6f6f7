"""`/metrics` as scrapers get it: `[metrics]` bounds from the config, gzip when accepted."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from netvigil.config import parse_config
from netvigil.errors import ConfigError
from netvigil.metrics import Metrics, accepts_gzip
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome
from netvigil.probe_metrics import ProbeMetrics
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.server import WebServer


def result(target: str, ts: float) -> Measurement:
    obs = Observation(ok=True, outcome=Outcome.OK, phase=None, timings={"total": 0.25})
    return Measurement.from_observation(obs, vantage="v", target=target, kind="tcp", ts=ts)


def series(text: bytes) -> dict[str, float]:
    """The unlabelled samples of an exposition, by name."""
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.labels
    }


def test_metrics_section_bounds_the_table() -> None:
    config = parse_config("[metrics]\nmax_series = 3\nmax_age_s = 120\n")
    clock = [1_000.0]
    table = ProbeMetrics.from_config(config, now=lambda: clock[0])
    assert (table.max_series, table.max_age_s) == (3, 120.0)
    for i in range(5):
        table.submit(result(f"t{i}", ts=950.0))
    got = series(table.render())
    assert got["netvigil_probe_series"] == 3
    assert got["netvigil_probe_series_limit"] == 3
    assert got["netvigil_probe_series_dropped_total"] == 2
    clock[0] = 950.0 + 121  # every row is now older than max_age_s
    assert series(table.render())["netvigil_probe_series"] == 0


def test_metrics_section_defaults() -> None:
    config = parse_config("")
    table = ProbeMetrics.from_config(config)
    assert (table.max_series, table.max_age_s) == (50_000, 3600.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_series = 0", "metrics.max_series: Input should be greater than or equal to 1"),
        ("max_series = 2000000", "metrics.max_series: Input should be less than or equal to"),
        ("max_age_s = 10", "metrics.max_age_s: Input should be greater than or equal to 60"),
        ("max_age_s = 1e9", "metrics.max_age_s: Input should be less than or equal to"),
        ("max_rows = 5", "metrics.max_rows: unknown setting 'max_rows'"),
    ],
)
def test_metrics_section_refuses_out_of_bounds_values(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"[metrics]\n{text}\n", source="nv.toml")
    assert message in str(info.value)
    assert "nv.toml" in str(info.value)


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("identity", False),
        ("br, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("GZIP ; Q=0.001", True),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("deflate, br", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accepts_gzip_reads_q_values(header: str | None, wanted: bool) -> None:
    assert accepts_gzip(header) is wanted


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, ProbeMetrics]]:
    """The real app on loopback, its /metrics carrying a table of 2,000 rows."""
    table = ProbeMetrics(now=lambda: 1_000.0)
    for i in range(2_000):
        table.submit(result(f"target-{i:04d}", ts=990.0))
    metrics = Metrics()
    metrics.track_exposition(table.render)
    async with await SQLiteStore.open(tmp_path / "m.db") as store:
        app = create_app(store, parse_config(""), metrics)
        server = await WebServer.start(app, host="127.0.0.1", port=0)
        try:
            yield server.url, table
        finally:
            await server.stop()


async def test_scrape_is_gzipped_when_the_scraper_accepts_it(
    served: tuple[str, ProbeMetrics],
) -> None:
    url, table = served
    async with httpx.AsyncClient(timeout=30) as client:
        plain = await client.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"})
        packed = await client.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"})
        refused = await client.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip;q=0"})
        raw = await client.send(
            client.build_request("GET", f"{url}/metrics", headers={"Accept-Encoding": "gzip"}),
            stream=True,
        )
        wire = b"".join([chunk async for chunk in raw.aiter_raw()])
        await raw.aclose()
    assert plain.headers.get("content-encoding") is None
    assert refused.headers.get("content-encoding") is None
    assert packed.headers["content-encoding"] == "gzip"
    for answer in (plain, packed):
        assert answer.headers["vary"] == "Accept-Encoding"
        assert answer.headers["content-type"].startswith("text/plain; version=")
    assert series(packed.content)["netvigil_probe_series"] == 2_000
    assert series(plain.content)["netvigil_probe_series"] == 2_000
    # what travels is the gzip stream, a fraction of the text
    text = gzip.decompress(wire)
    assert b'netvigil_probe_success{target="target-1999"' in text
    assert len(wire) < len(plain.content) / 5
    assert len(table) == 2_000


async def test_small_scrape_is_sent_plain(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "m.db") as store:
        metrics = Metrics()
        metrics.gzip_min_bytes = 10**9
        app = create_app(store, parse_config(""), metrics)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
            answer = await c.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers.get("content-encoding") is None
    assert "netvigil_targets" in series(answer.content)
