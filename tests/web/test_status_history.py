"""The status page's history, incident archive, Atom feed and badges, on a real store.

The store holds five days of results: the fixture's ten minutes today (portal falls at
NOW-300, an open shutdown incident), and for the four days before, ten results a day
per vantage of portal and tax, with a resolved outage, a resolved planned maintenance,
and incidents the public pages must not show (a vantage's own trouble, a withdrawn
one, one older than 90 days).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from apidata import NOW, fill, incident, make_config, measurement

from netvigil.cause import Cause
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.status_feed import ATOM_NS, rfc3339
from netvigil.web.status_history import DAY_S, day_state, uptime_words

TODAY = int(NOW // DAY_S) * DAY_S
A = f"{{{ATOM_NS}}}"


def day(n: int) -> int:
    """The start of the day `n` days before today."""
    return TODAY - n * DAY_S


def resolved(n: int, start: float, end: float, *, services: list[str], **changes: Any) -> Incident:
    inc = incident(n, end=end)
    inc.start, inc.services, inc.updated = start, services, end
    inc.confirmed_at = start + 60
    for name, value in changes.items():
        setattr(inc, name, value)
    return inc


OUTAGE = resolved(
    2, day(3) + 3600 + 300, day(3) + 3600 + 900, services=["portal"], cause=Cause.SERVICE_FAILURE
)
MAINTENANCE = resolved(
    3, day(1) + 7200, day(1) + 9000, services=["portal"], maintenance="planned upgrade"
)
VANTAGE = resolved(4, day(2) + 100, day(2) + 700, services=["tax"], cause=Cause.VANTAGE_PROBLEM)
WITHDRAWN = resolved(5, day(2) + 200, day(2) + 400, services=["tax"], confirmed_at=None)
ANCIENT = resolved(6, day(100), day(100) + 600, services=["tax"])


async def fill_days(store: SQLiteStore) -> None:
    """Days 4..1 before today: portal works, fails 1 in 10 (outage), fails all, then
    works under maintenance; tax works every day."""
    portal_ok = {4: [True] * 10, 3: [True] * 9 + [False], 2: [False] * 10, 1: [True] * 10}
    batch = []
    for n, oks in portal_ok.items():
        for k, ok in enumerate(oks):
            ts = day(n) + 3600 + k * 60
            batch.append(measurement("portal-tcp", "tirana", ts, ok=ok))
            batch.append(measurement("tax-tcp", "tirana", ts, ok=True))
    await store.add(batch)
    for inc in (OUTAGE, MAINTENANCE, VANTAGE, WITHDRAWN, ANCIENT):
        await store.add_incident_event(IncidentEvent(EventKind.RESOLVED, inc.end or 0, inc))
        await store.save_incident(inc)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "history.db")
    await fill(s)
    await fill_days(s)
    yield s
    await s.close()


async def client_for(
    store: SQLiteStore, clock: list[float] | None = None, **server: Any
) -> tuple[httpx.AsyncClient, Any]:
    now = (lambda: clock[0]) if clock is not None else (lambda: NOW)
    app = create_app(store, make_config(**server), now=now)
    await app.state.live.sync(store)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://nv.test"), app


def bars_of(html: str, label: str) -> list[tuple[str, int, str]]:
    """The (state, days, title) bars of the service shown as `label`."""
    row = re.search(rf'<span class="name">{re.escape(label)}</span>.*?</li>', html)
    assert row is not None, label
    found = re.findall(r'<i class="(\w+) n(\d+)" title="([^"]*)"></i>', row.group(0))
    return [(state, int(n), title) for state, n, title in found]


def uptime_of(html: str, label: str) -> str:
    row = re.search(rf'<span class="name">{re.escape(label)}</span>.*?</li>', html)
    assert row is not None
    found = re.search(r'<span class="uptime">([^<]*)</span>', row.group(0))
    assert found is not None
    return found.group(1)


def test_day_state_rule() -> None:
    assert day_state(0, 0, incident=True, planned_only=False) == "unknown"
    assert day_state(100, 100, incident=False, planned_only=True) == "working"
    assert day_state(100, 99, incident=False, planned_only=True) == "working"
    assert day_state(100, 98, incident=False, planned_only=True) == "degraded"
    assert day_state(100, 49, incident=False, planned_only=True) == "down"
    assert day_state(100, 100, incident=True, planned_only=False) == "degraded"
    assert day_state(100, 10, incident=True, planned_only=False) == "down"
    assert day_state(100, 10, incident=True, planned_only=True) == "maintenance"
    assert uptime_words(9999, 10_000) == "99.99%"
    assert uptime_words(99_999, 100_000) == "99.99%", "never rounded up to a perfect score"
    assert uptime_words(0, 0) == "no data"


async def test_each_service_shows_90_days_by_the_rule(store: SQLiteStore) -> None:
    client, app = await client_for(store)
    async with client:
        await app.state.status_page.history.refresh()
        html = (await client.get("/status")).text
        css = (await client.get("/status.css")).text
    portal = bars_of(html, "e-Albania portal")
    assert sum(n for _, n, _ in portal) == 90
    assert [(s, n) for s, n, _ in portal] == [
        ("unknown", 85),
        ("working", 1),
        ("degraded", 1),  # one check in ten failed, and an outage touched the day
        ("down", 1),  # every check failed
        ("maintenance", 1),
        ("degraded", 1),  # today: half the checks failed, the open shutdown
    ]
    assert portal[0][2] == "2023-08-17 to 2023-11-09: no data"
    assert portal[2][2] == "2023-11-11: partly down, 90.00% of checks succeeded"
    assert portal[4][2] == "2023-11-13: under maintenance, 100.00% of checks succeeded"
    # 10/10 + 9/10 + 0/10 + 10/20 today; the maintenance day does not count
    assert uptime_of(html, "e-Albania portal") == "58.00% of checks succeeded in 90 days"
    tax = bars_of(html, "Tax office")
    assert [(s, n) for s, n, _ in tax] == [("unknown", 85), ("working", 5)]
    assert uptime_of(html, "Tax office") == "100.00% of checks succeeded in 90 days"
    assert [s for s, _, _ in bars_of(html, "parliament")] == ["unknown", "degraded"]
    assert bars_of(html, "quiet") == [("unknown", 90, "2023-08-17 to 2023-11-14: no data")]
    assert uptime_of(html, "quiet") == "No data in 90 days"
    assert 'href="/status/feed.atom"' in html
    for state, n, _ in portal + tax:
        assert f"i.{state} {{" in css
        assert f".days .n{n} {{ flex-grow: {n}; }}" in css
    assert "vantage" not in html.lower()
    for internal in ("portal-tcp", "tcp_timeout", "tirana", "frankfurt", "inc-"):
        assert internal not in html


async def test_history_is_computed_in_the_background_and_kept(store: SQLiteStore) -> None:
    clock = [NOW]
    client, app = await client_for(store, clock)
    history = app.state.status_page.history
    async with client:
        first = (await client.get("/status")).text
        assert bars_of(first, "Tax office") == [], "no history until it is computed"
        await history.wait()
        assert history.refreshes == 1
        clock[0] += 2  # past the page's own cache: rendered again with the history
        page = await client.get("/status")
        assert [n for _, n, _ in bars_of(page.text, "Tax office")] == [85, 5]
        for _ in range(5):
            await client.get("/status")
        await history.wait()
        assert history.refreshes == 1, "computed at most every refresh_s"
        # a late result three days back is not read again; one from yesterday is
        await store.add([measurement("tax-tcp", "tirana", day(3) + 7200, ok=False)])
        more = [
            measurement("tax-tcp", "tirana", day(1) + 7200 + k * 60, ok=False) for k in range(5)
        ]
        await store.add(more)
        clock[0] += history.refresh_s
        await client.get("/status")
        await history.wait()
        assert history.refreshes == 2
        clock[0] += 2  # past the page's own cache
        html = (await client.get("/status")).text
    tax = bars_of(html, "Tax office")
    assert [(s, n) for s, n, _ in tax] == [
        ("unknown", 85),
        ("working", 3),
        ("degraded", 1),
        ("working", 1),
    ]
    assert "66.66% of checks" in tax[2][2]  # 10 of 15


async def test_archive_lists_resolved_public_incidents_newest_first(store: SQLiteStore) -> None:
    client, app = await client_for(store)
    async with client:
        await app.state.status_page.history.refresh()
        resp = await client.get("/status/incidents")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.headers["cache-control"] == "public, max-age=15"
    html = resp.text
    links = re.findall(r'<a href="/status/incidents/([^"]+)">', html)
    assert links == ["inc-3", "inc-2"], "resolved and public only, newest first"
    assert (
        "From 2023-11-13 02:00 UTC to 2023-11-13 02:30 UTC (30 min), e-Albania portal was"
        " unreachable; it was planned maintenance." in html
    )
    assert (
        "From 2023-11-11 01:05 UTC to 2023-11-11 01:15 UTC (10 min), e-Albania portal was"
        " failing; " in html
    )
    assert "Started 2023-11-11 01:05 UTC · ended 2023-11-11 01:15 UTC · lasted 10 min" in html
    assert "<script" not in html.lower()
    for internal in ("portal-tcp", "tcp_timeout", "tirana", "frankfurt"):
        assert internal not in html


async def test_one_incident_in_plain_words_with_its_report(store: SQLiteStore) -> None:
    client, app = await client_for(store, show_vantages_publicly=True)
    async with client:
        await app.state.status_page.history.refresh()
        resp = await client.get("/status/incidents/inc-2")
        assert resp.status_code == 200
        html = resp.text
        assert "<h1>e-Albania portal: outage</h1>" in html
        assert "<dt>Lasted</dt><dd>10 min</dd>" in html
        assert "<dt>Seen from</dt><dd>tirana, frankfurt</dd>" in html
        report = re.search(r'<a href="(/api/v1/incidents/inc-2/report.html)">', html)
        assert report is not None
        assert (await client.get(report.group(1))).status_code == 200
        still = (await client.get("/status/incidents/inc-1")).text
        assert "Since 2023-11-14 22:08 UTC, e-Albania portal and parliament are" in still
        assert "<dt>Ended</dt><dd>still going</dd>" in still
        again = await client.get(
            "/status/incidents/inc-2", headers={"If-None-Match": resp.headers["etag"]}
        )
        assert again.status_code == 304
        for hidden in ("inc-4", "inc-5", "inc-6", "nope"):
            missing = await client.get(f"/status/incidents/{hidden}")
            assert missing.status_code == 404, hidden
            assert missing.json()["error"] == f"no such incident: {hidden}"


async def test_atom_feed_has_one_stable_entry_per_incident(store: SQLiteStore) -> None:
    client, app = await client_for(store)
    async with client:
        await app.state.status_page.history.refresh()
        resp = await client.get("/status/feed.atom")
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/atom+xml; charset=utf-8"
        feed = ET.fromstring(resp.content)
        assert feed.tag == f"{A}feed"
        assert feed.findtext(f"{A}id") == "http://nv.test/status"
        entries = feed.findall(f"{A}entry")
        ids = [e.findtext(f"{A}id") for e in entries]
        assert ids == [f"http://nv.test/status/incidents/inc-{n}" for n in (1, 3, 2)]
        open_one = entries[0]
        assert open_one.findtext(f"{A}updated") == rfc3339(NOW - 300 + 120)
        assert open_one.findtext(f"{A}title") == "e-Albania portal and parliament: ongoing"
        assert entries[2].findtext(f"{A}updated") == rfc3339(OUTAGE.updated)
        assert entries[2].findtext(f"{A}published") == rfc3339(OUTAGE.start)
        link = entries[2].find(f"{A}link")
        assert link is not None
        assert link.get("href") == "http://nv.test/status/incidents/inc-2"
        assert feed.findtext(f"{A}updated") == rfc3339(NOW - 300 + 120)
        for entry in entries:
            for tag in ("id", "title", "updated", "summary"):
                assert entry.findtext(f"{A}{tag}"), tag
        # the open incident ends: same entry id, newer `updated`, resolved words
        ended = incident(1, end=NOW)
        ended.updated = NOW
        await store.add_incident_event(IncidentEvent(EventKind.RESOLVED, NOW, ended))
        await store.save_incident(ended)
        app.state.live.submit_event(IncidentEvent(EventKind.RESOLVED, NOW, ended))
        await client.get("/status/feed.atom")  # sees it ended: reads the incidents again
        await app.state.status_page.history.wait()
        feed2 = ET.fromstring((await client.get("/status/feed.atom")).content)
        archive = (await client.get("/status/incidents")).text
    assert re.findall(r'<a href="/status/incidents/([^"]+)">', archive)[0] == "inc-1"
    first = feed2.findall(f"{A}entry")[0]
    assert first.findtext(f"{A}id") == "http://nv.test/status/incidents/inc-1"
    assert first.findtext(f"{A}updated") == rfc3339(NOW)
    assert first.findtext(f"{A}title") == "e-Albania portal and parliament: resolved"
    assert feed2.findtext(f"{A}updated") == rfc3339(NOW)


async def test_badges_say_the_state_in_its_colour(store: SQLiteStore) -> None:
    client, _ = await client_for(store)
    async with client:
        portal = await client.get("/status/badge/portal.svg")
        tax = await client.get("/status/badge/tax.svg")
        quiet = await client.get("/status/badge/quiet.svg")
        assert portal.status_code == 200
        assert portal.headers["content-type"] == "image/svg+xml"
        assert portal.headers["cache-control"] == "public, max-age=15"
        again = await client.get(
            "/status/badge/portal.svg", headers={"If-None-Match": portal.headers["etag"]}
        )
        assert again.status_code == 304
        unknown = await client.get("/status/badge/nope.svg")
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "no such service: nope"
    svg = "{http://www.w3.org/2000/svg}"
    for resp, word, colour in (
        (portal, "down", "#cf222e"),
        (tax, "working", "#1a7f37"),
        (quiet, "no data yet", "#6e7781"),
    ):
        doc = ET.fromstring(resp.content)
        assert doc.findtext(f"{svg}title") == f"status: {word}"
        assert [t.text for t in doc.iter(f"{svg}text")] == ["status", word]
        assert colour in [r.get("fill") for r in doc.iter(f"{svg}rect")]
